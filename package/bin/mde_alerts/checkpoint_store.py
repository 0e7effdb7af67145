"""Where an input's checkpoint lives: the KV store (default) or a file.

Heavy forwarders often run with the KV store disabled, so each input chooses. The
choice is never switched silently: if the chosen store cannot be reached, the run
stops before reading anything and says so, and the checkpoint does not move.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any, Optional, Protocol

from mde_alerts.collector import Checkpoint
from mde_alerts.constants import CHECKPOINT_COLLECTION
from mde_alerts.splunk_config import Splunkd


class StoreUnavailable(Exception):
    """The checkpoint store cannot be read or written; the message says what to do."""


class CorruptCheckpoint(Exception):
    pass


class CheckpointStore(Protocol):
    def load(self, key: str) -> Optional[Checkpoint]: ...
    def save(self, key: str, checkpoint: Checkpoint) -> None: ...
    def delete(self, key: str) -> None: ...


def _decode(key: str, record: Any) -> Optional[Checkpoint]:
    if record is None:
        return None
    try:
        return Checkpoint.from_record(record)
    except (ValueError, TypeError, KeyError) as error:
        raise CorruptCheckpoint(f"checkpoint of input {key!r} cannot be read ({error})") from None


class KVStoreCheckpoints:
    """One KV store document per input, in the format of solnlib's KVStoreCheckpointer."""

    def __init__(self, splunkd: Splunkd) -> None:
        self._splunkd = splunkd

    @staticmethod
    def _unavailable(error: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            f"The KV store is not available ({type(error).__name__}: {str(error)[:200]}). Start or enable the KV "
            "store on this instance, or set this input's Checkpoint store to File (it then starts again from Start)."
        )

    def load(self, key: str) -> Optional[Checkpoint]:
        try:
            document = self._splunkd.kv_get(CHECKPOINT_COLLECTION, key)
        except Exception as error:  # noqa: BLE001 (splunklib raises HTTP, socket and SSL errors alike)
            raise self._unavailable(error) from None
        if document is None:
            return None
        return _decode(key, document.get("state"))

    def save(self, key: str, checkpoint: Checkpoint) -> None:
        record = {"_key": key, "state": json.dumps(checkpoint.to_record(), separators=(",", ":"))}
        try:
            self._splunkd.kv_save(CHECKPOINT_COLLECTION, record)
        except Exception as error:  # noqa: BLE001
            raise self._unavailable(error) from None

    def delete(self, key: str) -> None:
        try:
            self._splunkd.kv_delete(CHECKPOINT_COLLECTION, key)
        except Exception as error:  # noqa: BLE001
            raise self._unavailable(error) from None


class FileCheckpoints:
    """One JSON file per input in splunkd's checkpoint_dir, replaced atomically.

    solnlib's FileCheckpointer is deprecated and does not fsync; a checkpoint that
    survives a power cut is the point of having one.
    """

    def __init__(self, directory: str) -> None:
        self._directory = directory

    def _path(self, key: str) -> str:
        return os.path.join(self._directory, f"{key}.checkpoint.json")

    def load(self, key: str) -> Optional[Checkpoint]:
        try:
            with open(self._path(key), encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreUnavailable(
                f"Cannot read checkpoint file {self._path(key)}: {error}. Check its permissions."
            ) from None
        try:
            record = json.loads(text)
        except ValueError:
            raise CorruptCheckpoint(f"checkpoint file {self._path(key)} is not JSON") from None
        return _decode(key, record)

    def save(self, key: str, checkpoint: Checkpoint) -> None:
        try:
            os.makedirs(self._directory, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self._directory, prefix=f".{key}.")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(checkpoint.to_record(), out, separators=(",", ":"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self._path(key))
        except OSError as error:
            raise StoreUnavailable(
                f"Cannot write checkpoint file in {self._directory}: {error}. Check free space and permissions."
            ) from None

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._path(key))
