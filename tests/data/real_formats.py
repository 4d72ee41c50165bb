"""Tiny files in the real datasets' formats and folder layouts (as tonic 1.7 and the official
archives lay them out), written by the tests: a few samples each, events clustered in a patch and
in time so that every bin the models see has some."""

import os
import pickle
import struct

import h5py
import numpy as np

from neuroattack.data.events import make_events
from neuroattack.data.readers import write_nmnist_file


def _clustered(rng, n, width, height, duration_us, cx=None, cy=None, spread=4):
    cx = rng.integers(spread, width - spread) if cx is None else cx
    cy = rng.integers(spread, height - spread) if cy is None else cy
    x = np.clip(cx + rng.integers(-spread, spread + 1, n), 0, width - 1)
    y = np.clip(cy + rng.integers(-spread, spread + 1, n), 0, height - 1)
    t = np.sort(rng.integers(0, duration_us, n))
    p = rng.integers(0, 2, n)
    return x, y, t, p


def make_nmnist(root, per_split=(10, 4), seed=0):
    """``NMNIST/{Train,Test}/<digit>/<i>.bin`` (N-MNIST's 40-bit events) and the archives' names."""
    rng = np.random.default_rng(seed)
    base = os.path.join(root, "NMNIST")
    os.makedirs(base, exist_ok=True)
    for folder, count, archive in (("Train", per_split[0], "train.zip"), ("Test", per_split[1], "test.zip")):
        open(os.path.join(base, archive), "wb").close()
        for i in range(count):
            label = i % 10
            x, y, t, p = _clustered(rng, 300, 34, 34, 75_000, cx=8 + 2 * label, cy=17)
            path = os.path.join(base, folder, str(label), f"{i:05d}.bin")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_nmnist_file(path, make_events(x, y, t, p))


def make_dvsgesture(root, per_split=(10, 4), seed=0):
    """``DVSGesture/ibmGesture{Train,Test}/user<NN>_<lighting>/<label>.npy``: int64 ``[N, 4]`` x, y, p, t (ms)."""
    rng = np.random.default_rng(seed)
    base = os.path.join(root, "DVSGesture")
    for name, count in (("ibmGestureTrain", per_split[0]), ("ibmGestureTest", per_split[1])):
        os.makedirs(base, exist_ok=True)
        open(os.path.join(base, name + ".tar.gz"), "wb").close()
        for i in range(count):
            label = i % 11
            folder = os.path.join(base, name, f"user{i + 1:02d}_led")
            os.makedirs(folder, exist_ok=True)
            x, y, t, p = _clustered(rng, 400, 128, 128, 60, cx=10 + 10 * label, cy=64, spread=8)  # t in ms
            np.save(os.path.join(folder, f"{label}.npy"), np.stack([x, y, p, t], axis=1).astype(np.int64))


_AEDAT4_XML = (
    '<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">'
    '<node name="0" path="/mainloop/Recorder/outInfo/0/">'
    '<attr key="compression" type="string">NONE</attr>'
    '<attr key="originalModuleName" type="string">capture</attr>'
    '<attr key="originalOutputName" type="string">events</attr>'
    '<attr key="typeDescription" type="string">Array of events (polarity ON/OFF).</attr>'
    '<attr key="typeIdentifier" type="string">EVTS</attr>'
    '<node name="info" path="/mainloop/Recorder/outInfo/0/info/">'
    '<attr key="sizeX" type="int">{w}</attr><attr key="sizeY" type="int">{h}</attr>'
    '<attr key="source" type="string">fixture</attr></node></node></node></dv>'
)


def _ioheader(description: bytes) -> bytes:
    """AEDAT 4's IOHeader flatbuffer (file identifier "IOHE"): compression NONE, no data table."""
    buf = bytearray(struct.pack("<I", 24) + b"IOHE" + struct.pack("<5H", 10, 20, 4, 8, 16) + b"\0" * 6)
    buf += struct.pack("<i", 16) + struct.pack("<i", 0) + struct.pack("<q", -1) + struct.pack("<I", 4)
    buf += struct.pack("<I", len(description)) + description + b"\0"
    buf += b"\0" * (-len(buf) % 4)
    return bytes(buf)


def _event_packet(t, x, y, p) -> bytes:
    """One EventPacket flatbuffer (identifier "EVTS"), size-prefixed: 16-byte events t, x, y, on."""
    dtype = np.dtype(
        {
            "names": ["t", "x", "y", "on"],
            "formats": ["<i8", "<i2", "<i2", "?"],
            "offsets": [0, 8, 10, 12],
            "itemsize": 16,
        }
    )
    ev = np.zeros(len(t), dtype=dtype)
    ev["t"], ev["x"], ev["y"], ev["on"] = t, x, y, p
    body = bytearray(struct.pack("<I", 16) + b"EVTS" + struct.pack("<3H", 6, 8, 4) + b"\0\0")
    body += struct.pack("<i", 8) + struct.pack("<I", 4) + struct.pack("<I", len(ev)) + ev.tobytes()
    return struct.pack("<I", len(body)) + bytes(body)


def write_aedat4(path, t, x, y, p, width=128, height=128):
    """An uncompressed AEDAT 4 file with one polarity stream (what tonic's reader, the aedat crate, reads)."""
    header = _ioheader(_AEDAT4_XML.format(w=width, h=height).encode())
    packet = _event_packet(t, x, y, p)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"#!AER-DAT4.0\r\n" + struct.pack("<I", len(header)) + header)
        f.write(struct.pack("<II", 0, len(packet)) + packet)


CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def make_cifar10_dvs(root, count=50, seed=0):
    """``CIFAR10DVS/<class>/cifar10_<class>_<i>.aedat4``."""
    rng = np.random.default_rng(seed)
    base = os.path.join(root, "CIFAR10DVS")
    os.makedirs(base, exist_ok=True)
    open(os.path.join(base, "CIFAR10DVS.zip"), "wb").close()
    for i in range(count):
        label = i % 10
        x, y, t, p = _clustered(rng, 400, 128, 128, 50_000, cx=10 + 10 * label, cy=64, spread=8)
        name = CIFAR_CLASSES[label]
        write_aedat4(os.path.join(base, name, f"cifar10_{name}_{i}.aedat4"), t, x, y, p)


def make_shd(root, per_split=(10, 4), seed=0):
    """``SHD/shd_{train,test}.h5`` in the official layout (spikes/times in s, spikes/units, labels, extra/)."""
    rng = np.random.default_rng(seed)
    base = os.path.join(root, "SHD")
    os.makedirs(base, exist_ok=True)
    for stem, count in (("shd_train.h5", per_split[0]), ("shd_test.h5", per_split[1])):
        open(os.path.join(base, stem + ".zip"), "wb").close()
        with h5py.File(os.path.join(base, stem), "w") as f:
            times = f.create_dataset("spikes/times", (count,), dtype=h5py.vlen_dtype(np.dtype("float32")))
            units = f.create_dataset("spikes/units", (count,), dtype=h5py.vlen_dtype(np.dtype("uint16")))
            labels = [i % 20 for i in range(count)]
            for i, label in enumerate(labels):
                times[i] = np.sort(rng.uniform(0, 0.9, 300)).astype(np.float32)
                units[i] = np.clip(30 * label + rng.integers(0, 30, 300), 0, 699).astype(np.uint16)
            f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
            f.create_dataset("extra/speaker", data=np.arange(count, dtype=np.uint16))
            keys = [f"{w}-{lang}".encode() for lang in ("english", "german") for w in range(10)]
            f.create_dataset("extra/keys", data=np.array(keys, dtype="S"))


def make_cifar10(root, per_batch=8, seed=0, protocol=4):
    """``cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}``: pickled dicts as the archive's."""
    rng = np.random.default_rng(seed)
    base = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(base, exist_ok=True)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        labels = [int(v) % 10 for v in range(per_batch)]
        data = np.zeros((per_batch, 3, 32, 32), dtype=np.uint8)
        for i, label in enumerate(labels):  # a bright square whose place tells the class
            data[i, :, 2 * label : 2 * label + 8, 4:12] = 255
            data[i] += rng.integers(0, 40, (3, 32, 32), dtype=np.uint8)
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": data.reshape(per_batch, 3072),
            b"filenames": [f"{name}_{j}.png".encode() for j in range(per_batch)],
        }
        with open(os.path.join(base, name), "wb") as f:
            pickle.dump(batch, f, protocol=protocol)
    with open(os.path.join(base, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CIFAR_CLASSES], b"num_vis": 3072}, f, protocol=protocol)


MAKERS = {
    "nmnist": make_nmnist,
    "dvsgesture": make_dvsgesture,
    "cifar10-dvs": make_cifar10_dvs,
    "shd": make_shd,
    "cifar10": make_cifar10,
}
