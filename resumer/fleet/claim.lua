-- Claim one room before it is sent (see claims.py): FINAL, BUSY or a fresh lease.
-- KEYS: 1 the run's ledger (room -> "STATUS TIME_US"), 2 the overlap ledger "-" (the same key
--       for a run without --ledger), 3 the room's lease, 4 the app's fence counter
-- ARGV: 1 room id, 2 honour overlap-ledger entries written at or after this Redis time (µs),
--       3 lease TTL (ms), 4 this run's id, 5 "1" if KEYS[1] is a named ledger (honoured whole)
-- Returns {hold, token}: hold 0 leased, 1 busy, 2 final; token 0 unless leased.
local function final_since(ledger, since)
  local entry = redis.call('HGET', ledger, ARGV[1])
  if not entry then
    return false
  end
  local at = tonumber(string.match(entry, ' (%d+)$'))
  return since == nil or (at ~= nil and at >= since)
end
if (ARGV[5] == '1' and final_since(KEYS[1], nil)) or final_since(KEYS[2], tonumber(ARGV[2])) then
  return {2, 0}
end
local held = redis.call('GET', KEYS[3])
if held then
  local mine = ' ' .. ARGV[4]
  if string.sub(held, -#mine) == mine then
    -- This run's own lease: the reply to its claim was lost and the call was made again.
    redis.call('PEXPIRE', KEYS[3], ARGV[3])
    return {0, tonumber(string.match(held, '^(%d+) '))}
  end
  return {1, 0}
end
local token = redis.call('INCR', KEYS[4])
redis.call('SET', KEYS[3], token .. ' ' .. ARGV[4], 'PX', ARGV[3])
return {0, token}
