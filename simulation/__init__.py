"""What-if simulation of the plant's lines, built from the twin (SimPy discrete-event engine).

The room imports only ``twinbridge.aas`` (and SimPy): a line model comes from the plant
description's ``simulation:`` blocks, a scenario changes it, and replications run in worker
processes so the server's event loop never waits for a simulation.
"""
