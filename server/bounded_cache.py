"""What an instance with a bounded cache of submodels and shells (a store URL's ``?cache=N``) cannot run.

Each of these builds something over every submodel or shell at start-up and keeps it in memory
(the OPC UA address space, the RDF graph, the plant's hierarchy and roll-ups, the history's Time
Series segments and journal, analytics monitors, the Sparkplug edge node's devices): with most
of them in the database only,
they would either load them all (the memory the cache is there to save) or answer from part of
the model. Those on by default are off on such an instance; one the configuration enables
explicitly is refused at start-up naming the setting, never run on a partial model. Such an
instance is a central repository (REST, registry, replicas); OPC UA and history run on an
instance that holds its model in memory (an edge, or one without ``?cache=``). Adapters'
bindings are allowed: a submodel with a device-fed element stays in memory (``aas.resident``).
"""

from __future__ import annotations

from twinbridge.aas.errors import InvalidInput
from twinbridge.server.config import PlantFile


def bounded_plant_file(plant_file: PlantFile) -> PlantFile:
    """``plant_file`` with the default-on features above turned off; InvalidInput naming every
    one the file enables explicitly."""
    server = plant_file.server
    conflicts = []
    if "enabled" in server.opcua.model_fields_set and server.opcua.enabled:
        conflicts.append("the OPC UA mirror (server.opcua.enabled: false)")
    if "semantic" in server.model_fields_set and server.semantic != "off":
        conflicts.append("the RDF graph of SPARQL (server.semantic: off)")
    if "enabled" in server.history.model_fields_set and server.history.enabled:
        conflicts.append("the value history and journal (server.history.enabled: false)")
    if plant_file.plant is not None:
        conflicts.append("a plant description (its hierarchy and roll-ups; import its AASX instead)")
    if plant_file.analytics is not None:
        conflicts.append("analytics (remove the analytics section)")
    sparkplug = server.events.sparkplug
    if sparkplug is not None and sparkplug.edge_node is not None:
        conflicts.append("the Sparkplug edge node, one device per shell with every submodel's values "
                         "(remove server.events.sparkplug.edge_node)")
    if conflicts:
        raise InvalidInput("the store keeps only some submodels in memory (its URL's ?cache=), which "
                           "these features cannot work with: " + "; ".join(conflicts))
    server = server.model_copy(update={
        "opcua": server.opcua.model_copy(update={"enabled": False}),
        "semantic": "off",
        "history": server.history.model_copy(update={"enabled": False}),
    })
    return plant_file.model_copy(update={"server": server})
