-- Claim rooms of one app before they are sent (see claims.py): each FINAL, BUSY or a fresh lease.
-- KEYS: 1 the run's ledger (room -> "STATUS TIME_US"), 2 the overlap ledger "-" (the same key
--       for a run without --ledger), 3 the app's fence counter, 4 the app's generation, then
--       each room's lease
-- ARGV: 1 honour overlap-ledger entries written at or after this Redis time (µs), 2 lease TTL
--       (ms), 3 this run's id, 4 "1" if KEYS[1] is a named ledger (honoured whole), 5 the
--       generation as this run met it at its start ("": not checked), 6 its TTL (ms), then the
--       room ids, in the order of their leases in KEYS
-- Returns {hold, token} for each room, flat and in order: hold 0 leased, 1 busy, 2 final; token
-- 0 unless leased. Or {3, 0}: the generation is gone or another (Redis lost the shared state:
-- nothing claimed).
if ARGV[5] ~= '' then
  if redis.call('GET', KEYS[4]) ~= ARGV[5] then
    return {3, 0}
  end
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
end
local since = tonumber(ARGV[1])
local function final_since(ledger, room, after)
  local entry = redis.call('HGET', ledger, room)
  if not entry then
    return false
  end
  local at = tonumber(string.match(entry, ' (%d+)$'))
  return after == nil or (at ~= nil and at >= after)
end
local mine = ' ' .. ARGV[3]
local answer = {}
for i = 5, #KEYS do
  local room = ARGV[i + 2]
  local hold, token = 0, 0
  if (ARGV[4] == '1' and final_since(KEYS[1], room, nil)) or final_since(KEYS[2], room, since) then
    hold = 2
  else
    local held = redis.call('GET', KEYS[i])
    if held and string.sub(held, -#mine) == mine then
      -- This run's own lease: the reply to its claim was lost and the call was made again.
      redis.call('PEXPIRE', KEYS[i], ARGV[2])
      token = tonumber(string.match(held, '^(%d+) '))
    elseif held then
      hold = 1
    else
      token = redis.call('INCR', KEYS[3])
      redis.call('SET', KEYS[i], token .. ' ' .. ARGV[3], 'PX', ARGV[2])
    end
  end
  answer[#answer + 1] = hold
  answer[#answer + 1] = token
end
return answer
