-- wrk script: POST one application per request, each from another applicant (a valid resident
-- identity number of its own), as a platform forwarding a day's applications to one agency
-- sends them. TOKEN comes from the environment. bench/intake.lua sends them all from one
-- applicant instead (then each intake counts all the earlier ones for the high-volume flag).
local weights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
local checks = "10X98765432"
-- Each thread its own numbers: wrk gives every thread a Lua state of its own.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
-- 110101 + a birth date in 1990 + a 3-digit order number + the check character (GB 11643).
local function identity(i)
  local month = math.floor(i / 28000) % 12 + 1
  local day = math.floor(i / 1000) % 28 + 1
  local base = string.format("1101011990%02d%02d%03d", month, day, i % 1000)
  local sum = 0
  for k = 1, 17 do sum = sum + tonumber(base:sub(k, k)) * weights[k] end
  local c = (sum % 11) + 1
  return base .. checks:sub(c, c)
end
request = function()
  n = n + 1
  local id = identity((n * 2 + (tid or 1)) % 336000)
  local body = [[{"channel": "letter", "arrived_at": "2026-03-02T09:30:00+08:00", "signed_for_on": "2026-03-02",
   "applicant": {"kind": "natural_person", "name": "张三",
     "id_document": {"type": "resident_id_card", "number": "]] .. id .. [["},
     "phone": "13800000000", "email": null, "address": "北京市东城区"},
   "description": "2025年度本局行政许可决定清单", "document_numbers": [],
   "requested_form": "electronic", "delivery": "email", "external_reference": null}]]
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end
