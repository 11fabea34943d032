"""`runawaytrain drill`: deploy the fleet into a local AWS emulator, trip it, undo it.

- command.py: the subcommand, its steps in order, and `run_drill`;
- one module per step: deploy.py, fast_trip.py, quarantine.py (payer, quarantine, release),
  status.py (before and after), trip.py (seed, trip, restore), watchdog.py;
- scenario.py (what to seed, the results record), checks.py and capacity.py (what must have
  happened, read back from the emulator), emulator.py (the moto_server the drill runs);
- stand-ins for what the emulator cannot deploy, also used by the payer's tests:
  payer_standin.py, and queues.py to read a queue to the end.

The commands never import this package (only main.py wires the subcommand, importing
command.py only when the drill is the command run: it needs the `drill` extra, moto and the
CDK); the drill imports the commands' helpers. Nothing is imported here, so
`python -m runawaytrain_cli.drill.emulator` (the emulator's server process) loads only what it
needs, and `runawaytrain --help` lists the drill with HELP without loading it.
"""

HELP = "deploy the fleet into a local AWS emulator, trip it, restore it (./dev demo)"
