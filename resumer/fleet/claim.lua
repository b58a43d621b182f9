-- Claim one room before it is sent (see claims.py): FINAL, BUSY or a fresh lease.
-- KEYS: 1 the ledger (room -> "STATUS TIME_US"), 2 the room's lease, 3 the app's fence counter
-- ARGV: 1 room id, 2 honour ledger entries written at or after this Redis time (µs; "" = all),
--       3 lease TTL (ms), 4 this run's id
-- Returns {hold, token}: hold 0 leased, 1 busy, 2 final; token 0 unless leased.
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if entry then
  local at = tonumber(string.match(entry, ' (%d+)$'))
  if ARGV[2] == '' or (at and at >= tonumber(ARGV[2])) then
    return {2, 0}
  end
end
local held = redis.call('GET', KEYS[2])
if held then
  local mine = ' ' .. ARGV[4]
  if string.sub(held, -#mine) == mine then
    -- This run's own lease: the reply to its claim was lost and the call was made again.
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
    return {0, tonumber(string.match(held, '^(%d+) '))}
  end
  return {1, 0}
end
local token = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[2], token .. ' ' .. ARGV[4], 'PX', ARGV[3])
return {0, token}
