-- Claim one room before it is sent (see claims.py): FINAL, BUSY or a fresh lease.
-- KEYS: 1 the run's ledger (room -> "STATUS TIME_US"), 2 the overlap ledger "-" (the same key
--       for a run without --ledger), 3 the room's lease, 4 the app's fence counter,
--       5 the app's generation
-- ARGV: 1 room id, 2 honour overlap-ledger entries written at or after this Redis time (µs),
--       3 lease TTL (ms), 4 this run's id, 5 "1" if KEYS[1] is a named ledger (honoured whole),
--       6 the generation as this run met it at its start ("": not checked), 7 its TTL (ms)
-- Returns {hold, token}: hold 0 leased, 1 busy, 2 final, 3 the generation is gone or another
-- (Redis lost the shared state: nothing claimed); token 0 unless leased.
if ARGV[6] ~= '' then
  if redis.call('GET', KEYS[5]) ~= ARGV[6] then
    return {3, 0}
  end
  redis.call('PEXPIRE', KEYS[5], ARGV[7])
end
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
