"""The Hugging Face Hub integration: reading the Hub (with retries), recording its repos as
variants observed in the wild, the resumable sync of a base model's descendants,
fingerprinting their weights (downloaded, or sketched remotely by range reads), and the
fingerprint jobs a fleet of workers takes from a broker.
"""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.hub.fingerprint import FingerprintOutcome, fingerprint_repo
    from registry.hub.jobs import JobsReport, enqueue_jobs, jobs_report, wait_for_jobs
    from registry.hub.reader import HubReader
    from registry.hub.remote import RemoteFile, RemoteStats, open_remote
    from registry.hub.sync import DEFAULT_DEPTH, sync_root
    from registry.hub.worker import run_jobs, run_worker

__all__, __getattr__ = lazy_surface(__name__, __file__)
