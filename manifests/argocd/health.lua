-- Argo CD health for bluegreen.dev/v1alpha1 BlueGreenRelease.
-- Written for Lua 5.1 (Argo CD runs gopher-lua): no goto, no integer ops.
-- Order matters: a status written for an older generation says nothing about
-- the spec Git now holds, so staleness wins over every other verdict, as in
-- kstatus (which Flux uses) and kubectl wait.
local hs = {}

local function condition(conditions, wanted)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local function first_message(...)
  for i = 1, select("#", ...) do
    local m = select(i, ...)
    if m ~= nil and m ~= "" then
      return m
    end
  end
  return ""
end

local function message_of(c)
  if c == nil then
    return nil
  end
  return c.message
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the release"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if status.observedGeneration == nil or status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local phase = status.phase
local ready = condition(status.conditions, "Ready")
local stalled = condition(status.conditions, "Stalled")
local reconciling = condition(status.conditions, "Reconciling")
local phase_text = "Phase " .. tostring(phase or "unknown")

if phase == "Failed" or phase == "RolledBack" or (stalled ~= nil and stalled.status == "True") then
  hs.status = "Degraded"
  hs.message = first_message(message_of(stalled), message_of(ready), status.message, phase_text)
  return hs
end

if phase == "AwaitingPromotion" then
  hs.status = "Suspended"
  hs.message = first_message(
    message_of(ready),
    status.message,
    "Revision " .. tostring(status.revision) .. " awaits promotion"
  )
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = first_message(message_of(ready), status.message, phase_text)
  return hs
end

hs.status = "Progressing"
hs.message = first_message(message_of(ready), message_of(reconciling), status.message, phase_text)
return hs
