-- wrk script: POST applications spread over the agencies listed in AGENCIES (comma-separated
-- ids), as a provincial platform forwarding to many agencies would.
local agencies = {}
for id in string.gmatch(os.getenv("AGENCIES") or "", "[^,]+") do table.insert(agencies, id) end
local n = 0
request = function()
  n = n + 1
  local agency = agencies[(n % #agencies) + 1]
  local body = [[{"channel": "letter", "arrived_at": "2026-03-02T09:30:00+08:00", "signed_for_on": "2026-03-02",
   "applicant": {"kind": "natural_person", "name": "张三",
     "id_document": {"type": "resident_id_card", "number": "110101199003071233"},
     "phone": "13800000000", "address": "北京市东城区"},
   "description": "2025年度本局行政许可决定清单", "requested_form": "electronic", "delivery": "email",
   "agency_id": "]] .. agency .. [["}]]
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end
