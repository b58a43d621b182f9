
-- Record again, stamped now, rooms a results log holds final (a --resume: see republish.py),
-- as a release records one: the same entry, counts twin and TTLs. Begins with ledger.lua.
-- KEYS: 1 the run's ledger, 2 its counts (status -> rooms), 3 the overlap ledger "-", 4 its
--       counts (3 and 4 the same keys as 1 and 2 for a run without --ledger)
-- ARGV: 1 the run's ledger's TTL (ms), 2 the overlap ledger's TTL (ms), then for each room its
--       id and its final status
-- Returns the number of rooms recorded.
local now = redis.call('TIME')
local stamp = now[1] .. string.format('%06d', tonumber(now[2]))
local rooms = 0
for i = 3, #ARGV - 1, 2 do
  record(1, ARGV[i], ARGV[i + 1], stamp)
  rooms = rooms + 1
end
if rooms > 0 then
  expire_ledgers(1, 1)
end
return rooms
