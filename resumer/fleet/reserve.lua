
-- Send slots of one app, from the GCRA (burst of one) that every runner on this Redis shares;
-- resumer/fleet/budget.py explains the why. The dollar-sign names are filled in from resumer's
-- constants when the script is loaded, so the Python and the Lua arithmetic cannot drift apart.
-- It begins with ledger.lua and giveback.lua: a booking carries the leases the caller is done with.
--
-- KEYS: 1 tat (string: the earliest µs the next send may leave), 2 sends (zset of recent slots,
--       µs), 3 rate (hash: the shared CUBIC state, rate_max and cut_at; the shared margin, as
--       the jitter it covers (`cover`, seconds) and when a jitter throttle last widened it
--       (`widened_at`, µs); and `decided`: the slot up to which throttles belong to an episode
--       already answered), 4 asked (zset: `RATE RUNNER` by when it last asked), 5 the app's
--       generation; then, only with leases to give back, give_back's KEYS from 6
-- ARGV: 1 budget (requests/s: the app's whole budget; the script takes the shared margin off)
--       2 report (µs: the slot of a send the API throttled; 0: nothing to report)
--       3 ended (µs ago the caller's first request ended: book no sooner than one interval after;
--         -1: nothing to say)
--       4 unused (µs: the slot of a send the caller gave up, woken too late for it; 0: none)
--       5 caller (the runner's name)
--       6 the app's generation as the caller met it at its start (KEYS[5]; "": not checked)
--       7 now (µs; "" in runs, which read Redis's clock, never a host's; a time in tests)
--       8 count (slots wanted: consecutive ones, one interval apart, as many as fit in AHEAD)
--       then, only with leases to give back, give_back's ARGV from 9
-- Reply (integers only: Lua numbers reach the client truncated):
--       {booked (1: at the slot `at`; 0: nothing booked, ask again at `at`; -1: the generation
--        is gone or another: Redis lost the shared state, nothing booked or given back), now µs,
--        at µs (the first slot), rate in µrequests/s, verdict, the shared margin's cover in ns,
--        give_back's answers, slots booked, the interval between them in µs}

local tat_key, sends_key, rate_key, asked_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if ARGV[6] ~= '' then
    if redis.call('GET', KEYS[5]) ~= ARGV[6] then return {-1, 0, 0, 0, 0, 0, {}, 0, 0} end
    redis.call('PEXPIRE', KEYS[5], $GENERATION_TTL_MS)
end
local report = tonumber(ARGV[2])
local now
if ARGV[7] ~= '' then
    now = tonumber(ARGV[7])
else
    -- µs since an epoch of resumer's own, so every time stays an exact integer in a double.
    local time = redis.call('TIME')
    now = (tonumber(time[1]) - $EPOCH) * 1000000 + tonumber(time[2])
end

-- tostring keeps 14 significant digits: every µs that goes into a string is formatted whole.
local function us(value) return string.format('%d', value) end

-- The leases the caller is done with, stamped as release.lua stamps them (Unix µs).
local given = {}
if #KEYS > 5 then given = give_back(6, 9, us(now + $EPOCH * 1000000)) end

-- The app's line: the lowest rate any runner asked for in its calls of the last LIVE seconds,
-- the caller's included. An operator who lowered --rate to leave room for the app's other
-- mixing calls gets that, whoever else runs; each caller's own rate would move the one grid
-- by its own interval and hold neither.
local budget = tonumber(ARGV[1])
redis.call('ZADD', asked_key, now, ARGV[1] .. ' ' .. ARGV[5])
redis.call('ZREMRANGEBYSCORE', asked_key, '-inf', '(' .. us(now - $LIVE_US))
for _, member in ipairs(redis.call('ZRANGE', asked_key, 0, -1)) do
    budget = math.min(budget, tonumber(string.match(member, '^%S+')))
end

local state = redis.call('HMGET', rate_key, 'rate_max', 'cut_at', 'decided', 'cover', 'widened_at')
local rate_max, cut_at = tonumber(state[1]), tonumber(state[2])
local decided = tonumber(state[3]) or -1
local cover, widened_at = tonumber(state[4]) or $LEAST_COVER, tonumber(state[5])
local tat = tonumber(redis.call('GET', tat_key)) or now

-- pacing.Margin.jitter at `now`: the cover shrinks by SHRINK per second after QUIET seconds
-- without a widening, down to LEAST_COVER, where the widening is forgotten (the learning
-- starts afresh). Shrinking only goes on with time, so forgetting here, without writing it
-- down, is what every later call would find too.
local function jitter()
    if not widened_at then return cover end
    local quiet = math.max(0, (now - widened_at) / 1000000 - $QUIET)
    local shrunk = cover - $SHRINK * quiet
    if shrunk <= $LEAST_COVER then
        cover, widened_at = $LEAST_COVER, nil
        return cover
    end
    return shrunk
end

-- pacing.Margin.widen at `now`: STEP more while learning, NUDGE once the margin held for QUIET
-- seconds, never past WIDEST_COVER; the seconds added (0: at the widest already).
local function widen()
    local current = jitter()
    if current >= $WIDEST_COVER then return 0 end
    local learning = not widened_at or (now - widened_at) / 1000000 < $QUIET
    local step = $NUDGE
    if learning then step = $STEP end
    local wider = math.min(current + step, $WIDEST_COVER)
    cover, widened_at = wider, now
    redis.call('HSET', rate_key, 'cover', string.format('%.17g', wider), 'widened_at', us(now))
    return wider - current
end

-- The most the fleet may send: the budget less the shared margin, pace budget / (1 + J).
local function ceiling() return budget / (1 + jitter()) end

-- pacing.CubicRate.rate: r(t) = SCALE·(t − K)³ + r_max, K = ∛(r_max·(1 − BETA)/SCALE), under the
-- ceiling and never below MIN_RATE.
local function pace()
    local top = ceiling()
    if not cut_at then return top end
    local k = (rate_max * (1 - $BETA) / $SCALE) ^ (1 / 3)
    local t = (now - cut_at) / 1000000 - k
    local climbed = $SCALE * t * t * t + rate_max
    if climbed >= top then return top end
    return math.max(climbed, $MIN_RATE)
end

if ARGV[4] ~= '0' then redis.call('ZREM', sends_key, ARGV[4]) end -- never sent: not counted

-- A throttle someone saw: one answer per episode for the whole fleet.
local verdict = 0 -- 0 none, 1 stale (an episode answered already), 2 cut, 3 widened (jitter)
if report > 0 then
    redis.call('ZREM', sends_key, us(report)) -- the API did not count it
    if report <= decided then
        verdict = 1
    else
        -- The fleet's sends the API counted in the second before the refused one.
        local count = redis.call('ZCOUNT', sends_key, '(' .. us(report - $WINDOW_US - $SKEW_US),
            '(' .. us(report))
        local margin = 1 - 1 / (1 + jitter())
        local widened = 0
        if count + 1 >= ceiling() then widened = widen() end
        if widened > 0 then
            -- The fleet alone had the whole budget: arrivals came late. The shared margin
            -- widened; move the grid back by as much, for every runner at once.
            tat = math.max(tat, now) + math.floor(widened * 1000000 + 0.5)
            verdict = 3
        else
            -- Someone outside the fleet spends the rest (or the margin is at its widest): aim
            -- just under the fleet's share.
            local current = pace()
            local measured = current
            if count > 0 then measured = math.min(current, count / $WINDOW_S * (1 - margin)) end
            rate_max, cut_at = math.max(measured, $MIN_RATE), now
            redis.call('HSET', rate_key, 'rate_max', rate_max, 'cut_at', us(cut_at))
            verdict = 2
        end
        -- Throttles of sends booked so far belong to this episode: they were paced before it.
        decided = math.max(tat, now)
        redis.call('HSET', rate_key, 'decided', us(decided))
    end
end

local rate = pace()
local interval = math.ceil(1000000 / rate)
local start = math.max(tat, now)
local ended = tonumber(ARGV[3])
if ended >= 0 then start = math.max(start, now - ended + interval) end
local booked = start - now <= $AHEAD_US
local n_slots = 0
if booked then
    n_slots = math.min(tonumber(ARGV[8]), math.floor(($AHEAD_US - (start - now)) / interval) + 1)
    local slots = {}
    for i = 0, n_slots - 1 do
        slots[#slots + 1] = us(start + i * interval)
        slots[#slots + 1] = slots[#slots]
    end
    tat = start + n_slots * interval
    redis.call('ZADD', sends_key, unpack(slots))
    redis.call('ZREMRANGEBYSCORE', sends_key, '-inf', '(' .. us(now - $KEEP_US))
    redis.call('PEXPIRE', sends_key, $TTL_MS)
end
-- Every key expires a while after the app's last call: an idle app leaves nothing behind.
redis.call('SET', tat_key, us(tat), 'PX', $TTL_MS)
redis.call('PEXPIRE', rate_key, $TTL_MS)
redis.call('PEXPIRE', asked_key, $TTL_MS)
local rate_u = math.floor(rate * 1000000)
local cover_ns = math.floor(jitter() * 1000000000 + 0.5)
if not booked then
    -- Too far ahead: a crowd of callers must not book the future; ask again when it is not.
    return {0, now, start - $AHEAD_US, rate_u, verdict, cover_ns, given, 0, interval}
end
return {1, now, start, rate_u, verdict, cover_ns, given, n_slots, interval}
