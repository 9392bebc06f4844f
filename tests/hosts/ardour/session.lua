-- Headless Ardour session for Melwave's host test (run by ardour7-lua from
-- tests/hosts/ardour_vst3.sh): a MIDI track with a note generator and the Melwave
-- VST3, played for a few seconds while the track's output meter is read.
local dir = os.getenv("MELWAVE_SESSION_DIR")
assert(AudioEngine:set_backend("JACK", "", ""), "Ardour has no JACK backend")
assert(AudioEngine:start(false) == 0, "Ardour's engine did not start against jackd")
assert(create_session(dir, "melwave", 48000), "create_session failed")

local midi1 = ARDOUR.ChanCount(ARDOUR.DataType("midi"), 1)
local stereo = ARDOUR.ChanCount(ARDOUR.DataType("audio"), 2)
local tl = Session:new_midi_track(midi1, stereo, false, ARDOUR.PluginInfo(), nil, nil, 1, "Melwave", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
local track = tl:front()

local scanned = false
for p in ARDOUR.LuaAPI.list_plugins():iter() do
	if p.type == ARDOUR.PluginType.VST3 and p.name == "Melwave" then scanned = true end
end
print("MELWAVE_SCANNED", scanned)
assert(scanned, "Ardour's plugin list has no Melwave VST3")

local plug = ARDOUR.LuaAPI.new_plugin(Session, "Melwave", ARDOUR.PluginType.VST3, "")
assert(not plug:isnil(), "Melwave VST3 could not be instantiated")
assert(track:add_processor_by_index(plug, 0, nil, true) == 0, "inserting Melwave failed")
local gen = ARDOUR.LuaAPI.new_luaproc(Session, "Melwave Test Notes")
assert(not gen:isnil(), "note generator script not found")
assert(track:add_processor_by_index(gen, 0, nil, true) == 0, "inserting the note generator failed")
for i = 0, 8 do
	local p = track:nth_plugin(i)
	if p:isnil() then break end
	print("MELWAVE_PROCESSOR", i, p:name())
end

-- The meter holds the MIDI channel first, then the two audio channels. Levels are
-- dBFS with the meter's falloff, read every 100 ms for 4.5 s: two chords.
local pm = track:peak_meter()
local engine = Session:engine()
local cycles_before = engine:processed_samples()
local trace = {}
for i = 1, 45 do
	ARDOUR.LuaAPI.usleep(100000)
	local m = math.max(pm:meter_level(1, ARDOUR.MeterType.MeterPeak), pm:meter_level(2, ARDOUR.MeterType.MeterPeak))
	trace[#trace + 1] = string.format("%.1f", m)
end
print("MELWAVE_METER_DB " .. table.concat(trace, " "))
-- How far Ardour's engine really ran while the meter was read (samples).
print("MELWAVE_PROCESSED " .. tostring(engine:processed_samples() - cycles_before) .. " dsp_load " .. tostring(engine:get_dsp_load()))
Session:save_state("")
close_session()
print("MELWAVE_DONE")
