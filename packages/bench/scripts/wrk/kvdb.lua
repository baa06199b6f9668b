-- wrk against a kvdb node (or the reference server): a JSON-RPC `set` or `get` per request, of key "key:K" with K
-- uniform over KEYS keys; a set's value is a JSON string of VALUE_BYTES "x" characters.
--   wrk -c 11 -d 10s -s kvdb.lua http://127.0.0.1:PORT/ -- set|get VALUE_BYTES KEYS SEED
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

local operation, value, keys
local id = 0

function init(args)
  local size
  operation, size, keys = parse_args(args)
  value = string.rep("x", size)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

-- Every key was loaded, so a get that finds none is a bad reply.
function answered(body)
  return operation == "set" or not string.find(body, '"result":null', 1, true)
end

function request()
  id = id + 1
  local params
  if operation == "set" then
    params = '{"key":"key:' .. pick(keys) .. '","value":"' .. value .. '"}'
  else
    params = '{"key":"key:' .. pick(keys) .. '"}'
  end
  local body = '{"jsonrpc":"2.0","id":' .. id .. ',"method":"' .. operation .. '","params":' .. params .. '}'
  return wrk.format(nil, nil, nil, body)
end
