import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from edu_gen import plot, train  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_image_grid_lays_out_images_and_keeps_the_title():
    fig = plot.image_grid(torch.rand(10, 1, 28, 28), nrow=5, title="10 digits")
    ax = fig.axes[0]
    shown = ax.images[0].get_array()
    assert shown.shape[:2] == (2 * 28 + 3 * 2, 5 * 28 + 6 * 2)  # 2 rows, 5 columns, padding 2
    assert ax.get_title() == "10 digits"
    plot.image_grid(torch.rand(4, 28, 28))  # (N, H, W) works too
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\).*got \(28, 28\)"):
        plot.image_grid(torch.rand(28, 28))


def test_plots_draw_on_a_given_axes_and_do_not_touch_rcparams():
    before = dict(matplotlib.rcParams)
    fig, axes = plt.subplots(1, 4)
    assert plot.curves([0, 1, 2], {"a": [1, 2, 3], "b": [3, 2, 1]}, ax=axes[0], title="t") is fig
    assert plot.density_1d(np.linspace(-1, 1, 5), {"p": np.ones(5)}, samples=np.zeros(10), ax=axes[1]) is fig
    assert plot.scatter_2d(torch.randn(20, 2), torch.arange(20) % 3, ax=axes[2]) is fig
    history = train.History()
    for step in range(40):
        history.log(step, loss=1.0 / (step + 1))
    assert plot.training_curves(history, ax=axes[3], smooth=5) is fig
    assert len(axes[0].lines) == 2 and len(axes[3].lines) == 2  # raw + smoothed
    assert dict(matplotlib.rcParams) == before


def test_scatter_with_continuous_colours_adds_a_colour_bar():
    fig = plot.scatter_2d(torch.randn(30, 2), torch.rand(30), title="t")
    assert len(fig.axes) == 2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plot.scatter_2d(torch.randn(5, 3)), r"\(N, 2\)"),
        (lambda: plot.scatter_2d(torch.randn(5, 2), torch.arange(4)), "4 labels for 5 points"),
        (lambda: plot.curves([0, 1], {"a": [1, 2, 3]}), "has 3 values but x has 2"),
        (lambda: plot.density_1d([0, 1], {"p": [1]}), "has 1 values but the grid has 2"),
    ],
)
def test_mismatched_inputs_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_training_curves_name_a_missing_key():
    with pytest.raises(KeyError, match="no curve named"):
        plot.training_curves({"loss": [1, 2]}, keys=["kl"])


def test_curves_take_colours_and_scatter_can_drop_the_equal_aspect():
    fig = plot.curves([0, 1], {"mean": [0, 1], "upper": [1, 2], "lower": [-1, 0]}, colors={"upper": "k", "lower": "k"})
    upper, lower = fig.axes[0].lines[1:]
    assert upper.get_color() == lower.get_color() == "k"
    assert plot.scatter_2d(torch.randn(10, 2), equal_aspect=False).axes[0].get_aspect() == "auto"
    assert plot.scatter_2d(torch.randn(10, 2)).axes[0].get_aspect() == 1.0


def test_arrows_end_exactly_at_the_given_points():
    start = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    end = torch.tensor([[1.0, 0.0], [1.0, 3.0]])
    fig = plot.arrows(start, end, background=torch.randn(50, 2), title="field")
    quiver = fig.axes[0].collections[-1]
    np.testing.assert_allclose(quiver.U, [1.0, 0.0])  # the arrow is end - start, in data units
    np.testing.assert_allclose(quiver.V, [0.0, 2.0])
    assert quiver.scale == 1 and fig.axes[0].get_title() == "field"
    with pytest.raises(ValueError, match=r"same shape \(N, 2\)"):
        plot.arrows(start, end[:1])


def test_filters_scale_each_unit_to_its_own_range():
    weights = torch.stack([torch.linspace(0, 1, 16), torch.linspace(-0.01, 0.01, 16)])  # one large, one tiny unit
    fig = plot.filters(weights, (4, 4), nrow=2, title="units")
    shown = fig.axes[0].images[0].get_array()
    first, second = shown[1:5, 1:5], shown[1:5, 6:10]  # padding 1 around each 4x4 filter
    np.testing.assert_allclose(np.asarray(first), np.asarray(second), atol=1e-6)  # both span black to white
    assert fig.axes[0].get_title() == "units"
    with pytest.raises(ValueError, match=r"\(num_units, 4 \* 4 = 16\)"):
        plot.filters(torch.rand(3, 15), (4, 4))


def test_image_grid_puts_each_image_in_its_place_and_clamps():
    # image i is a constant grey i / 10: the tile at row r, column c must hold image r * nrow + c
    images = (torch.arange(6.0) / 10).reshape(6, 1, 1, 1).expand(6, 1, 4, 4).clone()
    images[5] = 2.0  # out of range: shown as white (1), not passed on to imshow
    shown = np.asarray(plot.image_grid(images, nrow=3, padding=1).axes[0].images[0].get_array())
    assert shown.shape[:2] == (2 * 4 + 3, 3 * 4 + 4)
    for i in range(6):
        r, c = divmod(i, 3)
        tile = shown[1 + r * 5 : 5 + r * 5, 1 + c * 5 : 5 + c * 5]
        np.testing.assert_allclose(tile, min(i / 10, 1.0) if i < 5 else 1.0, atol=1e-6)


def test_filters_keep_the_pixel_order_and_polarity():
    weights = torch.stack([torch.arange(16.0), torch.zeros(16)])  # unit 0's weights grow in reading order
    shown = np.asarray(plot.filters(weights, (4, 4), nrow=2).axes[0].images[0].get_array())[1:5, 1:5, 0]
    np.testing.assert_allclose(shown, (np.arange(16.0) / 15).reshape(4, 4), atol=1e-6)  # smallest black, largest white


def test_curves_draw_the_given_points_with_their_styles_and_labels():
    fig = plot.curves([1, 10, 100], {"a": [3, 2, 1], "b": [1, 2, 4]}, xlabel="steps", ylabel="nats", logy=True,
                      logx=True, styles={"b": "--"})
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 10, 100])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [1, 2, 4])
    assert ax.lines[0].get_linestyle() == "-" and ax.lines[1].get_linestyle() == "--"
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("steps", "nats")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_training_curves_use_the_recorded_steps_and_a_true_moving_average():
    history = train.History()
    values = np.random.default_rng(0).normal(size=40)
    for i, v in enumerate(values):
        history.log(100 + 2 * i, loss=v, kl=1.0)
    ax = plot.training_curves(history, keys=["loss"], smooth=5).axes[0]
    raw, smoothed = ax.lines
    assert len(ax.lines) == 2  # only the key asked for
    np.testing.assert_array_equal(raw.get_xdata(), 100 + 2 * np.arange(40))
    by_hand = [values[i - 4 : i + 1].mean() for i in range(4, 40)]  # the mean of the 5 values ending at step i
    np.testing.assert_allclose(smoothed.get_ydata(), by_hand, rtol=1e-12)
    np.testing.assert_array_equal(smoothed.get_xdata(), 100 + 2 * np.arange(4, 40))
    unsmoothed = plot.training_curves(history, keys=["kl"]).axes[0].lines[0]  # without smoothing, too
    np.testing.assert_array_equal(unsmoothed.get_xdata(), 100 + 2 * np.arange(40))


def test_density_1d_histogram_has_area_one_and_curves_follow_the_grid():
    grid = np.linspace(-3, 3, 7)
    ax = plot.density_1d(grid, {"p": np.exp(-grid**2)}, samples=np.random.default_rng(0).normal(size=500), bins=20).axes[0]
    area = sum(patch.get_height() * patch.get_width() for patch in ax.patches)
    assert area == pytest.approx(1.0, rel=1e-9)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), grid)


def test_scatter_puts_each_point_at_its_coordinates_in_its_class_colour():
    points = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    ax = plot.scatter_2d(points, torch.tensor([0, 1, 0, 1])).axes[0]
    first, second = ax.collections
    np.testing.assert_array_equal(first.get_offsets(), [[0.0, 1.0], [4.0, 5.0]])  # class 0: points 0 and 2, x then y
    np.testing.assert_array_equal(second.get_offsets(), [[2.0, 3.0], [6.0, 7.0]])
    assert not np.allclose(first.get_facecolor(), second.get_facecolor())
    unlabelled = plot.scatter_2d(points).axes[0].collections[0]
    np.testing.assert_array_equal(unlabelled.get_offsets(), points.numpy())
    quiver = plot.arrows(points[:2], points[2:]).axes[0].collections[-1]
    np.testing.assert_array_equal(quiver.X, [0.0, 2.0])  # tails at the start points
    np.testing.assert_array_equal(quiver.Y, [1.0, 3.0])
