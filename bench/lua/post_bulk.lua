-- POST /v1/chargebacks/bulk: N 1-unit notices on random orders from a file, unique bank references.
-- -s post_bulk.lua URL -- orders.txt PLATFORM_KEY N
local orders, headers, counter, tag, n = {}, {}, 0, "", 50
function init(args)
  for line in io.lines(args[1]) do orders[#orders + 1] = line end
  headers["Authorization"] = "Bearer " .. args[2]
  headers["Content-Type"] = "application/json"
  n = tonumber(args[3])
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  tag = tostring(math.random(1, 1e9))
end
function request()
  local items = {}
  for i = 1, n do
    counter = counter + 1
    items[i] = string.format(
      '{"order_id":"%s","reason_code":"13.1","amount_minor":1,"currency":"EUR","bank_reference":"B%s-%d"}',
      orders[math.random(1, #orders)], tag, counter)
  end
  return wrk.format("POST", nil, headers, '{"notices":[' .. table.concat(items, ",") .. ']}')
end
