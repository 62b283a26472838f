"""`manage.py runemulator <provider> --port N [--callback-url URL]`: serve one provider emulator."""

import time

from django.core.management.base import BaseCommand, CommandError

from callops.providers.emulators import KINDS, emulator_class
from callops.providers.emulators.core import Faults


class Command(BaseCommand):
    help = "Run a local emulator of a voice-AI provider's API (for demos, manual tests and benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("provider", choices=KINDS)
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--callback-url", default="", help="where callbacks are posted (Bolna, Dograh)")
        parser.add_argument("--api-key", default="test-key")
        parser.add_argument("--secret", default="", help="callback signing secret (CallingBox, Trillet)")
        parser.add_argument("--speed", type=float, default=1.0, help="time compression of call timelines")
        parser.add_argument("--spread", action="store_true", help="pick outcomes from the number's last digits")
        parser.add_argument("--p500", type=float, default=0.0)
        parser.add_argument("--p429", type=float, default=0.0)
        parser.add_argument("--ptimeout", type=float, default=0.0)
        parser.add_argument("--latency", type=float, default=0.0)

    def handle(self, *args, **opts):
        faults = Faults(p500=opts["p500"], p429=opts["p429"], ptimeout=opts["ptimeout"], latency=opts["latency"])
        try:
            emu = emulator_class(opts["provider"])(
                port=opts["port"], speed=opts["speed"], faults=faults, callback_url=opts["callback_url"],
                api_key=opts["api_key"], secret=opts["secret"], spread_outcomes=opts["spread"])
        except OSError as exc:
            raise CommandError(f"cannot listen on port {opts['port']}: {exc}")
        emu.start()
        self.stdout.write(f"{opts['provider']} emulator on {emu.url} (api key {opts['api_key']!r}); Ctrl-C stops")
        self.stdout.flush()  # a pipe is block-buffered without PYTHONUNBUFFERED; callers wait for this line
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            emu.stop()
