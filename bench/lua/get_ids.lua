-- GET <prefix><random id from a file> with a bearer key.  -s get_ids.lua URL -- /v1/chargebacks/ ids.txt KEY
local prefix, ids, headers = "/", {}, {}
function init(args)
  prefix = args[1]
  for line in io.lines(args[2]) do ids[#ids + 1] = line end
  headers["Authorization"] = "Bearer " .. args[3]
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
function request()
  return wrk.format("GET", prefix .. ids[math.random(1, #ids)], headers)
end
