"""VMs over an in-memory overlay of the chain's store: reads reach the store, writes stay in memory and are gone with
the overlay. The one builder behind traces, eth_simulateV1, testing_buildBlockV1 and access lists."""
from __future__ import annotations

from eth.abc import BlockHeaderAPI, VirtualMachineAPI
from eth.db.atomic import AtomicDB
from eth.db.batch import BatchDB
from eth.db.chain import ChainDB
from eth.vm.chain_context import ChainContext


class Overlay:
    """One overlay of `chain`'s store; every VM it makes shares it, so a later block sees an earlier one's writes."""

    def __init__(self, chain):
        self.chain = chain
        self.chaindb = ChainDB(AtomicDB(BatchDB(chain.db)))

    def vm(self, header: BlockHeaderAPI, vm_class: type[VirtualMachineAPI] | None = None) -> VirtualMachineAPI:
        """A VM at `header` (its fork's class, unless `vm_class` is given: e.g. one configured for a run)."""
        vm_class = vm_class or self.chain.py.get_vm_class(header)
        return vm_class(header=header, chaindb=self.chaindb, chain_context=ChainContext(self.chain.config.chain_id),
                        consensus_context=self.chain.py.consensus_context)

    def child_vm_class(self, parent: BlockHeaderAPI, timestamp: int) -> type[VirtualMachineAPI]:
        """The VM class of a child of `parent` stamped `timestamp` (forks by time included)."""
        return self.chain.py.vm_class_for_child(parent, timestamp)

    def child_is_merged(self, parent: BlockHeaderAPI) -> bool:
        return self.chain.schedule.is_merged(parent) or self.chain.py.child_is_merged(parent)


def overlay_vm(chain, header: BlockHeaderAPI, vm_class: type[VirtualMachineAPI] | None = None) -> VirtualMachineAPI:
    """A VM at `header` on an overlay of its own."""
    return Overlay(chain).vm(header, vm_class)
