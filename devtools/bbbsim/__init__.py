"""BBB simulator: simulated BigBlueButton servers on loopback for tests, the local stack and benchmarks."""

from bbbsim.server import (
    Attendee,
    BBBSimulator,
    Document,
    Meeting,
    RecordedRequest,
    start_simulators,
    stop_simulators,
)

__all__ = [
    "Attendee",
    "BBBSimulator",
    "Document",
    "Meeting",
    "RecordedRequest",
    "start_simulators",
    "stop_simulators",
]
