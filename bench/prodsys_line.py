"""The comparison line of ``bench_prodsys.py`` written for prodsys (run by that script under an
interpreter that has prodsys installed; twinbridge does not depend on it).

    /path/to/prodsys-venv/bin/python bench/prodsys_line.py PARAMETERS_JSON SEED...

prodsys times are in minutes here. Prints one JSON line per seed: parts that reached the sink
within the horizon and the wall seconds of that replication.
"""

from __future__ import annotations

import json
import sys
import time

import prodsys.express as psx  # type: ignore[import-not-found]


def system(parameters: dict[str, object]) -> psx.ProductionSystem:
    machines = parameters["machines"]
    assert isinstance(machines, list)
    transport = psx.TransportProcess(psx.FunctionTimeModel(distribution_function="constant", location=1e-4,
                                                           ID="transport_time"), ID="transport")
    # Local names must not be those of prodsys.express modules (process, source, sink...): pydantic
    # resolves prodsys' string annotations in the caller's frame.
    steps, stations = [], []
    for index, machine in enumerate(machines):
        step = psx.ProductionProcess(psx.FunctionTimeModel(
            distribution_function="exponential", location=machine["cycle_s"] / 60, ID=f"cycle_{index}"),
            ID=f"process_{index}")
        breakdown = psx.BreakDownState(
            time_model=psx.FunctionTimeModel(distribution_function="exponential", location=machine["mtbf_h"] * 60,
                                             ID=f"tbf_{index}"),
            repair_time_model=psx.FunctionTimeModel(distribution_function="exponential",
                                                    location=machine["mttr_h"] * 60, ID=f"ttr_{index}"),
            ID=f"breakdown_{index}")
        steps.append(step)
        stations.append(psx.Resource([step], location=[10.0 * (index + 1), 0.0], states=[breakdown],
                                      ID=machine["name"]))
    worker = psx.Resource([transport], location=[0.0, 0.0], capacity=1000, ID="conveyor")
    part = psx.Product(process=steps, transport_process=transport, ID="part")
    arrival = psx.FunctionTimeModel(distribution_function="exponential", location=parameters["arrival_s"] / 60,
                                    ID="arrival")
    entry = psx.Source(part, arrival, location=[0.0, 0.0], ID="source")
    exit_ = psx.Sink(part, location=[10.0 * (len(machines) + 1), 0.0], ID="sink")
    return psx.ProductionSystem([*stations, worker], [entry], [exit_])


def main() -> None:
    parameters = json.loads(sys.argv[1])
    for seed in sys.argv[2:]:
        line = system(parameters)
        started = time.perf_counter()
        line.run(parameters["horizon_h"] * 60, seed=int(seed))
        wall = time.perf_counter() - started
        parts = int(line.post_processor.df_aggregated_output.sum())  # parts that reached the sink
        print(json.dumps({"seed": int(seed), "parts": parts, "wall_s": wall}), flush=True)


if __name__ == "__main__":
    main()
