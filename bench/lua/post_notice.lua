-- POST /v1/chargebacks: a 1-unit notice on a random order from a file, unique bank reference.
-- -s post_notice.lua URL -- orders.txt PLATFORM_KEY
local orders, headers, counter, tag = {}, {}, 0, ""
function init(args)
  for line in io.lines(args[1]) do orders[#orders + 1] = line end
  headers["Authorization"] = "Bearer " .. args[2]
  headers["Content-Type"] = "application/json"
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  tag = tostring(math.random(1, 1e9))
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"order_id":"%s","reason_code":"13.1","amount_minor":1,"currency":"EUR","bank_reference":"B%s-%d"}',
    orders[math.random(1, #orders)], tag, counter)
  return wrk.format("POST", nil, headers, body)
end
