"""``kubectl bluegreen``: read a release's status and send it human actions.

The plugin never decides anything for the operator: it renders what the
operator wrote in status and writes one annotation that the operator consumes.
"""
