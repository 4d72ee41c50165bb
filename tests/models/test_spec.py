import pytest

from neuroattack.models.spec import FC, Conv, Pool, parse_spec

TABLE_V = {
    "Input-128C3-128C3-AP2-384C3-384C3-AP2-1024FC-512FC-10FC": ((2, 34, 34), (10,)),
    "Input-128C3-256C3-AP2-512C3-AP2-1024C3-512C3-1024FC-512FC-10FC": ((1, 28, 28), (10,)),
    "Input-64C3-128C3-AP2-128C3-AP2-256FC-11FC": ((2, 32, 32), (11,)),
}


@pytest.mark.parametrize("text", sorted(TABLE_V))
def test_parses_liang_table_v(text):
    spec = parse_spec(text)
    in_shape, out_shape = TABLE_V[text]
    shapes = spec.shapes(in_shape)
    assert shapes[-1] == out_shape
    assert isinstance(spec.layers[0], Conv) and spec.layers[0].padding == 1
    assert spec.num_outputs == out_shape[0]


def test_layer_details():
    spec = parse_spec("32C5s2p0-AP2-100FC-10FC")
    assert spec.layers == (Conv(32, 5, 2, 0), Pool(2), FC(100), FC(10))
    assert spec.shapes((1, 28, 28)) == [(32, 12, 12), (32, 6, 6), (100,), (10,)]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("Input", "no layers"),
        ("128C3-AP2-10X", r"token 3 '10X' is not one of"),
        ("128C3-10fc", r"token 2 '10fc' is not one of"),
        ("AP2-10FC", "average pooling must follow a convolution"),
        ("10FC-8C3-10FC", "cannot follow a fully connected"),
        ("128C3-AP2", "last layer must be fully connected"),
        ("0FC", ">= 1 neuron"),
        ("8C0-10FC", "must be >= 1"),
    ],
)
def test_rejects_malformed(text, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(text)


def test_kernel_too_large_for_input():
    spec = parse_spec("4C9p0-10FC")
    with pytest.raises(ValueError, match="does not fit the 8x8 input"):
        spec.shapes((1, 8, 8))


def test_a_model_too_large_for_memory_is_refused_before_its_weights_are_allocated():
    """Before, 99999999999FC-10FC asked torch for 25 TB of weights."""
    import pytest

    from neuroattack.models.snn import SNN

    with pytest.raises(
        ValueError, match=r"model spec '99999999999FC-10FC': layer 1 \(99999999999FC\) has 6399999999936 weights"
    ):
        SNN("99999999999FC-10FC", (1, 8, 8))
