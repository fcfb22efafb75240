-- GET the URL with a bearer key.  -s get_auth.lua URL -- KEY
local headers = {}
function init(args) headers["Authorization"] = "Bearer " .. args[1] end
function request() return wrk.format("GET", nil, headers) end
