-- Orthanc (1.10+) Lua recipe: export every stored instance through the hook's presigned uploads,
-- for files above the Lambda payload limit (about 4.4 MB of DICOM). Two requests per instance:
--   1. POST <hook>/uploads {studyUid, sopUid, size, md5}  -> a ticket {method: "PUT", url, headers}
--   2. HttpPut(ticket.url, <the file>, {Content-Type, Content-MD5})  -> straight into the intake bucket
--   3. HttpGet(ticket.check.url, {Range})  -> "DICM" when the bucket holds it (HttpPut cannot tell an error)
-- The object lands at <tenant>/dicom/<SOPInstanceUID>.dcm (the tenant comes from the credential), so a
-- re-export is harmless. md5 is the one Orthanc already stores per attachment (StoreMD5ForAttachments, on by
-- default); S3 checks it (Content-MD5) and the URL pins the exact size. Files above the hook's multipart
-- threshold (~100 MB) get a MULTIPART ticket, which this recipe does not drive: send those through the
-- streaming container (STOW-RS) instead. Chains any OnStoredInstance defined before it.
-- Every outcome is one log line starting 'hook upload: ' ('PUT done for <id>' or 'FAILED for <id>: <why>');
-- UploadThroughHook (local to this copy, so copies with other credentials can be chained) returns true only when the bucket took the file.

local HOOK_URL = 'https://pacs-hook.example.org'       -- the hook's base URL
local HOOK_AUTH = 'Bearer REPLACE-WITH-HOSPITAL-TOKEN'  -- or 'Basic <base64 user:password>'

local previousOnStoredInstance = OnStoredInstance

local function UploadThroughHook(instanceId)
  local base = '/instances/' .. instanceId
  local tags = ParseJson(RestApiGet(base .. '/simplified-tags'))
  local size = ParseJson(RestApiGet(base))['FileSize']
  local md5 = RestApiGet(base .. '/attachments/dicom/md5')
  local request = DumpJson({ studyUid = tags['StudyInstanceUID'], sopUid = tags['SOPInstanceUID'], size = size, md5 = md5 }, true)
  -- Orthanc's HttpPost, HttpPut and HttpGet return nil when no answer came (refused, reset, timed out) and an
  -- empty string for an HTTP error status: the same as an S3 PUT that worked. So a ticket must parse as JSON with
  -- a method, and a PUT counts as done only once the ticket's check GET reads "DICM" back from the bucket.
  local answer = HttpPost(HOOK_URL .. '/uploads', request, { ['Authorization'] = HOOK_AUTH, ['Content-Type'] = 'application/json' })
  if answer == nil or answer == '' then
    print('hook upload: FAILED for ' .. instanceId .. ': no answer from the hook (Orthanc does not retry)')
    return false
  end
  local ticket = ParseJson(answer)
  if ticket['method'] == nil then
    print('hook upload: FAILED for ' .. instanceId .. ': the hook refused it (' .. tostring(ticket['Reason']) .. ')')
    return false
  end
  if ticket['method'] ~= 'PUT' then
    print('hook upload: FAILED for ' .. instanceId .. ': above the single-PUT size; use STOW-RS to the streaming hook')
    return false
  end
  local headers = { ['Content-Type'] = ticket['headers']['Content-Type'], ['Content-MD5'] = ticket['headers']['Content-MD5'] }
  local stored = HttpPut(ticket['url'], RestApiGet(base .. '/file'), headers)
  if stored == nil then
    print('hook upload: FAILED for ' .. instanceId .. ': no answer from the bucket (Orthanc does not retry)')
    return false
  end
  local check = HttpGet(ticket['check']['url'], { ['Range'] = ticket['check']['headers']['Range'] })
  if check ~= 'DICM' then
    print('hook upload: FAILED for ' .. instanceId .. ': the bucket does not hold the file after the PUT')
    return false
  end
  print('hook upload: PUT done for ' .. instanceId)
  return true
end

function OnStoredInstance(instanceId, tags, metadata, origin)
  if previousOnStoredInstance then previousOnStoredInstance(instanceId, tags, metadata, origin) end
  UploadThroughHook(instanceId)
end
