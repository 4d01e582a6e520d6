"""A voice agent as livekit-agents users build one (`AgentSession` with STT, LLM, TTS and a VAD),
with scripted local stand-ins for the models: no network, no model file, known timing.

    python tests/live/voice_agent.py start     # the livekit-agents CLI; LIVEKIT_* as usual

It registers under `VOICE_AGENT_NAME` (explicit dispatch only) and, in each room it is sent to:
says `VOICE_AGENT_GREETING` (none when empty), then answers every caller turn: the "model"
takes `VOICE_AGENT_REPLY_DELAY_S` to its first words, and every reply (and the greeting) is
`VOICE_AGENT_SPEECH_S` of tone. `VOICE_AGENT_SILENT=1`: an agent that never speaks (no
greeting, the model answers nothing). The live tests set these from a `VoiceScript`.

The stand-ins: a VAD that calls loud audio speech (RMS over a threshold: the test phone plays
tone bursts and digital silence), an STT that writes `caller turn <n>` for each stretch of
speech, an LLM that writes `reply <n>` after its delay, a TTS that plays a 300 Hz tone.
"""

from __future__ import annotations

import asyncio
import math
import os
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    Agent,
    AgentServer,
    AgentSession,
    APIConnectOptions,
    JobContext,
    JobExecutorType,
    NotGivenOr,
    cli,
    llm,
    stt,
    tts,
    vad,
)
from livekit.agents.language import LanguageCode
from livekit.agents.utils import AudioBuffer

TTS_SAMPLE_RATE = 24000
TTS_HZ = 300.0
LOUD_RMS = 500.0
"""Audio louder than this (16-bit RMS) is speech: a tone burst is thousands, silence 0."""
MIN_SPEECH_S = 0.1
MIN_SILENCE_S = 0.3
"""Speech ends after this much quiet (silero's default is 0.55 s)."""
PREFIX_S = 0.3


@dataclass(frozen=True)
class VoiceScript:
    """How the agent behaves; passed to its process as VOICE_AGENT_* variables."""

    greeting: str = "Hello, thanks for calling."
    reply_delay_s: float = 0.6
    """The model's time to its first words."""
    speech_s: float = 1.0
    """The length of every thing it says."""
    silent: bool = False
    """Never speaks: no greeting, and the model answers every turn with nothing."""
    name: str = ""
    """Its agent name: dispatch rules name it (the `voice_line` fixture sets it)."""

    def env(self) -> dict[str, str]:
        return {
            "VOICE_AGENT_NAME": self.name,
            "VOICE_AGENT_GREETING": self.greeting,
            "VOICE_AGENT_REPLY_DELAY_S": str(self.reply_delay_s),
            "VOICE_AGENT_SPEECH_S": str(self.speech_s),
            "VOICE_AGENT_SILENT": "1" if self.silent else "0",
        }

    @classmethod
    def from_env(cls) -> VoiceScript:
        env = os.environ
        return cls(
            name=env["VOICE_AGENT_NAME"],
            greeting=env.get("VOICE_AGENT_GREETING", ""),
            reply_delay_s=float(env.get("VOICE_AGENT_REPLY_DELAY_S", "0.6")),
            speech_s=float(env.get("VOICE_AGENT_SPEECH_S", "1.0")),
            silent=env.get("VOICE_AGENT_SILENT") == "1",
        )


# --- VAD: loudness ------------------------------------------------------------------------


class LoudnessVAD(vad.VAD):
    def __init__(self) -> None:
        super().__init__(capabilities=vad.VADCapabilities(update_interval=0.02))

    @property
    def model(self) -> str:
        return "loudness"

    def stream(self) -> vad.VADStream:
        return LoudnessVADStream(self)


def _rms(frame: rtc.AudioFrame) -> float:
    samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


class LoudnessVADStream(vad.VADStream):
    """START_OF_SPEECH after MIN_SPEECH_S of loud audio, END_OF_SPEECH (with the speech's
    frames) after MIN_SILENCE_S of quiet, INFERENCE_DONE for every frame, as silero's."""

    def __init__(self, detector: LoudnessVAD) -> None:
        self._speaking = False
        self._loud_s = self._quiet_s = self._speech_s = 0.0
        self._samples = 0
        self._prefix: deque[rtc.AudioFrame] = deque()
        self._speech: list[rtc.AudioFrame] = []
        super().__init__(detector)  # starts _main_task

    async def _main_task(self) -> None:
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                self._speaking, self._speech = False, []
                self._loud_s = self._quiet_s = self._speech_s = 0.0
                self._prefix.clear()
            else:
                self._hear(item)

    def _hear(self, frame: rtc.AudioFrame) -> None:
        self._samples += frame.samples_per_channel
        loud = _rms(frame) > LOUD_RMS
        if loud:
            self._loud_s, self._quiet_s = self._loud_s + frame.duration, 0.0
        else:
            self._loud_s, self._quiet_s = 0.0, self._quiet_s + frame.duration
        if self._speaking:
            self._speech.append(frame)
            self._speech_s += frame.duration
        else:
            self._prefix.append(frame)
            while sum(f.duration for f in self._prefix) > PREFIX_S:
                self._prefix.popleft()
        if not self._speaking and self._loud_s >= MIN_SPEECH_S:
            self._speaking, self._speech_s = True, self._loud_s
            self._speech = list(self._prefix)
            self._prefix.clear()
            self._send(vad.VADEventType.START_OF_SPEECH, frame, self._speech, loud)
        elif self._speaking and self._quiet_s >= MIN_SILENCE_S:
            self._speaking = False
            self._send(vad.VADEventType.END_OF_SPEECH, frame, self._speech, loud)
            self._speech, self._speech_s = [], 0.0
        self._send(vad.VADEventType.INFERENCE_DONE, frame, [frame], loud)

    def _send(
        self,
        kind: vad.VADEventType,
        frame: rtc.AudioFrame,
        frames: list[rtc.AudioFrame],
        loud: bool,
    ) -> None:
        event = vad.VADEvent(
            type=kind,
            samples_index=self._samples,
            timestamp=self._samples / frame.sample_rate,
            speech_duration=self._speech_s,
            silence_duration=self._quiet_s,
            frames=frames,
            probability=1.0 if loud else 0.0,
            speaking=self._speaking,
            raw_accumulated_silence=self._quiet_s,
            raw_accumulated_speech=self._loud_s,
        )
        self._event_ch.send_nowait(event)


# --- STT: one line per stretch of speech --------------------------------------------------


class ScriptedSTT(stt.STT[Any]):
    def __init__(self) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self._turns = 0

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        self._turns += 1
        text = f"caller turn {self._turns}"
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=uuid.uuid4().hex,
            alternatives=[stt.SpeechData(language=LanguageCode("en"), text=text, confidence=1.0)],
        )


# --- LLM: `reply <n>` after a delay ---------------------------------------------------------


class ScriptedLLM(llm.LLM[Any]):
    def __init__(self, script: VoiceScript) -> None:
        super().__init__()
        self.script = script
        self.replies = 0

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        self.replies += 1
        text = "" if self.script.silent else f"reply {self.replies}."
        return ScriptedLLMStream(
            self, text, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class ScriptedLLMStream(llm.LLMStream):
    def __init__(self, model: ScriptedLLM, text: str, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self._text = text
        self._delay_s = model.script.reply_delay_s

    async def _run(self) -> None:
        await asyncio.sleep(self._delay_s)  # the model's time to its first words
        if self._text:
            delta = llm.ChoiceDelta(role="assistant", content=self._text)
            self._event_ch.send_nowait(llm.ChatChunk(id=uuid.uuid4().hex, delta=delta))


# --- TTS: a tone of the script's length -----------------------------------------------------


class ToneTTS(tts.TTS[Any]):
    def __init__(self, script: VoiceScript) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=TTS_SAMPLE_RATE,
            num_channels=1,
        )
        self.script = script

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return ToneStream(tts=self, input_text=text, conn_options=conn_options)


def tone_pcm(seconds: float, hz: float = TTS_HZ) -> bytes:
    n = np.arange(int(TTS_SAMPLE_RATE * seconds))
    wave = 6000 * np.sin(2 * math.pi * hz * n / TTS_SAMPLE_RATE)
    return wave.astype(np.int16).tobytes()


class ToneStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        assert isinstance(self._tts, ToneTTS)
        output_emitter.initialize(
            request_id=uuid.uuid4().hex,
            sample_rate=TTS_SAMPLE_RATE,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(tone_pcm(self._tts.script.speech_s))
        output_emitter.flush()


# --- the agent ------------------------------------------------------------------------------


def session_for(script: VoiceScript) -> AgentSession[None]:
    return AgentSession(
        stt=ScriptedSTT(),
        llm=ScriptedLLM(script),
        tts=ToneTTS(script),
        vad=LoudnessVAD(),
        # Both what the session picks on its own here (a VAD, no turn-detector model, `start`):
        # said outright so that a library default changing does not change the test.
        turn_handling={"turn_detection": "vad", "interruption": {"mode": "vad"}},
    )


async def entrypoint(ctx: JobContext) -> None:
    script = VoiceScript.from_env()
    await ctx.connect()
    session = session_for(script)
    await session.start(agent=Agent(instructions="Answer every caller turn."), room=ctx.room)
    if script.greeting and not script.silent:
        session.say(script.greeting)


def server() -> AgentServer:
    # Jobs in threads: one small process, no idle job processes to start. Always available:
    # the default load is the machine's CPU, and a busy test machine would refuse calls.
    agent_server = AgentServer(
        job_executor_type=JobExecutorType.THREAD,
        num_idle_processes=0,
        load_fnc=lambda: 0.0,
        host="127.0.0.1",
        port=0,
    )
    agent_server.rtc_session(entrypoint, agent_name=os.environ["VOICE_AGENT_NAME"])
    return agent_server


if __name__ == "__main__":
    # No voice models preloaded (~300 MiB): the stand-ins need none.
    os.environ.setdefault("LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE", "0")
    cli.run_app(server())
