-- wrk against an etcd member's v3 JSON gateway: `POST /v3/kv/put` or `POST /v3/kv/range` per request, of key
-- "key:K" with K uniform over KEYS keys; a put's value is VALUE_BYTES "x" bytes. The gateway takes keys and values
-- in base64, so a put's body is about 4/3 of the value. Ranges are etcd's default, linearizable reads.
--   wrk -c 11 -d 10s -s etcd.lua http://127.0.0.1:PORT -- set|get VALUE_BYTES KEYS SEED
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(text)
  local out = {}
  for i = 1, #text, 3 do
    local a, b, c = text:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local digits = { math.floor(n / 262144) % 64, math.floor(n / 4096) % 64, math.floor(n / 64) % 64, n % 64 }
    local count = c and 4 or (b and 3 or 2)
    for j = 1, 4 do
      out[#out + 1] = j <= count and alphabet:sub(digits[j] + 1, digits[j] + 1) or "="
    end
  end
  return table.concat(out)
end

local operation, value, keys
local encoded_keys = {}

function init(args)
  local size
  operation, size, keys = parse_args(args)
  value = base64(string.rep("x", size))
  for k = 0, keys - 1 do
    encoded_keys[k] = base64("key:" .. k)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.path = operation == "set" and "/v3/kv/put" or "/v3/kv/range"
end

-- Every key was loaded, so a range that finds none (no "kvs" in its reply) is a bad reply.
function answered(body)
  return operation == "set" or string.find(body, '"kvs"', 1, true) ~= nil
end

function request()
  local key = encoded_keys[pick(keys)]
  if operation == "set" then
    return wrk.format(nil, nil, nil, '{"key":"' .. key .. '","value":"' .. value .. '"}')
  end
  return wrk.format(nil, nil, nil, '{"key":"' .. key .. '"}')
end
