# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/kubernetes" {
  version     = "3.2.1"
  constraints = "3.2.1"
  hashes = [
    "h1:HGWua+UhzBZm5NSNzaVXUegVHFnwfx/8Aq1j/Adwxe8=",
  ]
}
