"""Where an input's checkpoint lives: the KV store (default) or a file.

Heavy forwarders often run with the KV store disabled, so each input chooses. The
choice is never switched silently: if the chosen store cannot be reached, the run
stops before reading anything and says so, and the checkpoint does not move.

A KV store that answers but has lost the add-on's collection (an admin deleted it, or
the KV store was restored from an older backup) is not "unreachable": the collection
is created again, as solnlib's KVStoreCheckpointer would, and the input is told its
checkpoint is lost, so it starts again from Start (duplicates once, never loss) and can
store checkpoints as it goes. A run never writes events no checkpoint can follow.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any, Optional, Protocol

from splunklib import binding

from mde_alerts.collector import Checkpoint
from mde_alerts.constants import CHECKPOINT_COLLECTION, CHECKPOINT_FIELDS
from mde_alerts.splunk_config import Splunkd


class StoreUnavailable(Exception):
    """The checkpoint store cannot be read or written; the message says what to do."""


class CheckpointLost(Exception):
    """The stored checkpoint cannot be used; the input starts again from its Start."""


class CorruptCheckpoint(CheckpointLost):
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
            if document is None and self._create_missing_collection():
                raise CheckpointLost(
                    f"the KV store collection {CHECKPOINT_COLLECTION} did not exist (deleted, or the KV store "
                    f"restored from an older backup), so the checkpoint of input {key!r} is lost; the collection "
                    "has been created again"
                )
        except (CheckpointLost, StoreUnavailable):
            raise
        except Exception as error:  # noqa: BLE001 (splunklib raises HTTP, socket and SSL errors alike)
            raise self._unavailable(error) from None
        if document is None:
            return None
        return _decode(key, document.get("state"))

    def _create_missing_collection(self) -> bool:
        """Create the collection if it is missing; True if it was. A 404 on a key alone is a first run."""
        if self._splunkd.kv_collection_exists(CHECKPOINT_COLLECTION):
            return False
        try:
            self._splunkd.kv_create_collection(CHECKPOINT_COLLECTION, CHECKPOINT_FIELDS)
        except Exception as error:  # noqa: BLE001
            raise StoreUnavailable(
                f"The KV store collection {CHECKPOINT_COLLECTION} is missing and cannot be created "
                f"({type(error).__name__}: {str(error)[:200]}). Restart splunkd so it creates the collections "
                "this add-on declares (collections.conf), or set this input's Checkpoint store to File. "
                "Nothing was collected."
            ) from None
        return True

    def save(self, key: str, checkpoint: Checkpoint) -> None:
        record = {"_key": key, "state": json.dumps(checkpoint.to_record(), separators=(",", ":"))}
        try:
            try:
                self._splunkd.kv_save(CHECKPOINT_COLLECTION, record)
            except binding.HTTPError as error:
                # The collection went away during the run: create it again and store this checkpoint.
                if error.status != 404 or not self._create_missing_collection():
                    raise
                self._splunkd.kv_save(CHECKPOINT_COLLECTION, record)
        except StoreUnavailable:
            raise
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
