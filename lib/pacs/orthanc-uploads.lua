-- Orthanc (1.10+) Lua recipe: export every stored instance through the hook's presigned uploads,
-- for files above the Lambda payload limit (about 4.4 MB of DICOM). Two requests per instance:
--   1. POST <hook>/uploads {studyUid, sopUid, size, md5}  -> a ticket {method: "PUT", url, headers}
--   2. HttpPut(ticket.url, <the file>, {Content-Type, Content-MD5})  -> straight into the intake bucket
-- The object lands at <tenant>/dicom/<SOPInstanceUID>.dcm (the tenant comes from the credential), so a
-- re-export is harmless. md5 is the one Orthanc already stores per attachment (StoreMD5ForAttachments, on by
-- default); S3 checks it (Content-MD5) and the URL pins the exact size. Files above the hook's multipart
-- threshold (~100 MB) get a MULTIPART ticket, which this recipe does not drive: send those through the
-- streaming container (STOW-RS) instead. Chains any OnStoredInstance defined before it.

local HOOK_URL = 'https://pacs-hook.example.org'       -- the hook's base URL
local HOOK_AUTH = 'Bearer REPLACE-WITH-HOSPITAL-TOKEN'  -- or 'Basic <base64 user:password>'

local previousOnStoredInstance = OnStoredInstance

function UploadThroughHook(instanceId)
  local base = '/instances/' .. instanceId
  local tags = ParseJson(RestApiGet(base .. '/simplified-tags'))
  local size = ParseJson(RestApiGet(base))['FileSize']
  local md5 = RestApiGet(base .. '/attachments/dicom/md5')
  local request = DumpJson({ studyUid = tags['StudyInstanceUID'], sopUid = tags['SOPInstanceUID'], size = size, md5 = md5 }, true)
  local answer = HttpPost(HOOK_URL .. '/uploads', request, { ['Authorization'] = HOOK_AUTH, ['Content-Type'] = 'application/json' })
  if answer == nil or answer == '' then
    print('hook upload: no ticket for ' .. instanceId .. ' (HttpPost failed; Orthanc does not retry)')
    return
  end
  local ticket = ParseJson(answer)
  if ticket['method'] ~= 'PUT' then
    print('hook upload: ' .. instanceId .. ' is above the single-PUT size; use STOW-RS to the streaming hook')
    return
  end
  local headers = { ['Content-Type'] = ticket['headers']['Content-Type'], ['Content-MD5'] = ticket['headers']['Content-MD5'] }
  HttpPut(ticket['url'], RestApiGet(base .. '/file'), headers)
  print('hook upload: PUT done for ' .. instanceId)
end

function OnStoredInstance(instanceId, tags, metadata, origin)
  if previousOnStoredInstance then previousOnStoredInstance(instanceId, tags, metadata, origin) end
  UploadThroughHook(instanceId)
end
