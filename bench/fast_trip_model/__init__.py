"""The model behind bench/fast_trip.py, one module per concern (the entry script's docstring says
what is real and what is simulated; bench/fast_trip_report.py prints the tables):

- scenario.py: the parameters, and the runaway script's launch timeline they imply;
- runaway_script.py: those launches made in moto, lazily, with the virtual clock at each;
- guard_run.py: one real guard run, its StopInstances requests placed on the virtual clock;
- account.py: a fresh emulated account wiring the two together;
- delivery.py: launch events reaching the guard (queue, batching window, throttling);
- schedule.py: the 5-minute schedule's runs at its worst phase;
- outcome.py: what a path achieved (first stop, instance-seconds, what is left running);
- phase_model.py: the schedule over every phase, modelled from the real runs;
- simulation.py: the runs one bench invocation makes, each path in its own account.

Importing the package first imports bench/emulated_aws.py: fake credentials and lambda/ on the
import path before any module here imports the guard.
"""

import bench.emulated_aws  # noqa: F401 -- for its side effect, described above
