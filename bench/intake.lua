-- wrk script: POST one application per request. TOKEN comes from the environment.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = [[{"channel": "letter", "arrived_at": "2026-03-02T09:30:00+08:00", "signed_for_on": "2026-03-02",
 "applicant": {"kind": "natural_person", "name": "张三",
   "id_document": {"type": "resident_id_card", "number": "110101199003071233"},
   "phone": "13800000000", "email": null, "address": "北京市东城区"},
 "description": "2025年度本局行政许可决定清单", "document_numbers": [],
 "requested_form": "electronic", "delivery": "email", "external_reference": null}]]
