ardour {
	["type"]    = "dsp",
	name        = "Melwave Test Notes",
	category    = "Utility",
	license     = "MIT",
	author      = "Melwave",
	description = [[Plays a C major chord (C4 E4 G4, velocity 100) for 1 s in every 2 s, starting 0.5 s after it is added, so a headless session has notes without a MIDI device.]]
}

function dsp_ioconfig ()
	return { { midi_in = 1, midi_out = 1, audio_in = 0, audio_out = 0 }, }
end

local rate = 48000
local pos = 0
function dsp_init (r) rate = r end

function dsp_run (_, _, n_samples)
	local cnt = 1
	local start = rate // 2
	local period = 2 * rate
	for i = 1, n_samples do
		local t = pos + i - 1
		if t >= start then
			local p = (t - start) % period
			if p == 0 or p == rate then
				for _, key in ipairs ({ 60, 64, 67 }) do
					local data = (p == 0) and { 0x90, key, 100 } or { 0x80, key, 0 }
					midiout[cnt] = { time = i, data = data }
					cnt = cnt + 1
				end
			end
		end
	end
	pos = pos + n_samples
end
