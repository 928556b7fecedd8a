"""Explanations per input column: feature_errors_by_column adds the errors of
a pipeline's autoencoder back up into the columns the pipeline was given."""

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

from skae import AutoencoderOutlierDetector
from skae.inspection import feature_errors_by_column

pd = pytest.importorskip("pandas")

FAST = {"max_iter": 3, "random_state": 0}
COLUMNS = ["length", "size", "weight", "colour", "batch"]
SIZE_ROWS = [0, 1, 2, 3, 4]
WEIGHT_ROWS = [5, 6, 7, 8, 9]


@pytest.fixture(scope="module")
def table():
    """Items whose length, weight and size class all follow one hidden size;
    their colour and batch do not. Rows ``SIZE_ROWS`` are large items
    labelled "small"; rows ``WEIGHT_ROWS`` weigh what their length says
    they should not."""
    rng = np.random.RandomState(0)
    n = 300
    size = np.sort(rng.normal(size=n))[::-1]
    X = pd.DataFrame(
        {
            "length": size + 0.1 * rng.normal(size=n),
            "size": np.select([size < -0.5, size > 0.5], ["small", "large"], "medium"),
            "weight": 2 * size + 0.2 * rng.normal(size=n),
            "colour": rng.choice(
                ["red", "green", "blue", "teal"], n, p=[0.4, 0.3, 0.2, 0.1]
            ),
            "batch": rng.randint(3, size=n).astype(float),
        },
        index=np.arange(1000, 1000 + n),
    )
    # The largest items come first: they are the ones relabelled.
    X.iloc[SIZE_ROWS, 1] = "small"
    X.iloc[WEIGHT_ROWS, 2] *= -1
    return X


def preprocessing(encoder):
    return ColumnTransformer(
        [
            ("number", StandardScaler(), ["length", "weight"]),
            ("category", encoder, ["size", "colour"]),
        ],
        remainder="passthrough",
    )


def by_output_name(pipeline, errors):
    """``errors`` of the transformed columns summed per input column, traced
    by the names ``get_feature_names_out`` gives them (``category__size_small``
    comes from ``size``): an account independent of the structural one."""
    names = pipeline[:-1].get_feature_names_out()
    grouped = {}
    for column in COLUMNS:
        mine = [
            i
            for i, name in enumerate(names)
            if name.startswith(f"category__{column}_")
            or name
            in {f"{step}__{column}" for step in ("number", "category", "remainder")}
        ]
        if mine:
            grouped[column] = errors[:, mine].sum(axis=1)
    return pd.DataFrame(grouped)


@pytest.mark.parametrize(
    "encoder",
    [
        OneHotEncoder(sparse_output=False),
        OneHotEncoder(sparse_output=False, drop="first"),
        OneHotEncoder(sparse_output=False, drop="if_binary", min_frequency=40),
        OneHotEncoder(sparse_output=False, drop=["medium", "red"], max_categories=3),
        OrdinalEncoder(),
    ],
    ids=["one-hot", "drop-first", "infrequent", "drop-and-infrequent", "ordinal"],
)
def test_grouped_errors_are_the_sums_of_each_columns_outputs(Estimator, table, encoder):
    pipeline = make_pipeline(preprocessing(encoder), Estimator(**FAST)).fit(table)
    grouped = feature_errors_by_column(pipeline, table)
    errors = pipeline[-1].feature_errors(pipeline[:-1].transform(table))
    expected = by_output_name(pipeline, errors)
    # Columns in the order the pipeline was fitted on, named as there.
    assert list(grouped.columns) == COLUMNS
    assert list(grouped.index) == list(table.index)
    assert grouped.dtypes.eq(np.float64).all()
    np.testing.assert_allclose(grouped[COLUMNS], expected[COLUMNS], rtol=1e-12)
    np.testing.assert_allclose(grouped.sum(axis=1), errors.sum(axis=1), rtol=1e-12)


def test_planted_rows_are_the_most_abnormal(table):
    encoder = OneHotEncoder(sparse_output=False)
    pipeline = make_pipeline(
        preprocessing(encoder), AutoencoderOutlierDetector(random_state=0)
    ).fit(table)
    most_abnormal = np.argsort(pipeline.score_samples(table))[:10]
    assert sorted(most_abnormal) == SIZE_ROWS + WEIGHT_ROWS


def test_each_planted_column_ranks_first_for_its_rows(table):
    # A code of 5, half the 10 columns the detector sees. The default code
    # here is 6 (the four colour columns, independent of the rest, spread
    # the variance), and PCA's sixth axis, which the trained model keeps,
    # ties the wrong size class to the other columns: the error of those
    # rows spreads over every column, colour's the largest (the user guide
    # says so).
    encoder = OneHotEncoder(sparse_output=False)
    pipeline = make_pipeline(
        preprocessing(encoder),
        AutoencoderOutlierDetector(n_components=5, random_state=0),
    ).fit(table)
    grouped = feature_errors_by_column(pipeline, table)
    assert (grouped.iloc[SIZE_ROWS].idxmax(axis=1) == "size").all()
    assert (grouped.iloc[WEIGHT_ROWS].idxmax(axis=1) == "weight").all()


def test_dropped_columns_are_left_out_and_passthrough_kept(table):
    X = table.drop(columns="colour")
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("drop", "drop", ["length"]),
                ("category", OneHotEncoder(sparse_output=False), ["size"]),
                ("number", "passthrough", ["weight"]),
            ]
        ),
        AutoencoderOutlierDetector(**FAST),
    ).fit(X)
    grouped = feature_errors_by_column(pipeline, X)
    # "batch" falls to the default remainder, "drop".
    assert list(grouped.columns) == ["size", "weight"]
    errors = pipeline[-1].feature_errors(pipeline[:-1].transform(X))
    np.testing.assert_allclose(grouped["size"], errors[:, :3].sum(axis=1))
    np.testing.assert_allclose(grouped["weight"], errors[:, 3])


def test_nested_pipelines_imputers_and_indicators(table):
    X = table.copy()
    X.iloc[20:30, 0] = np.nan
    X.iloc[40:45, 3] = None
    numbers = make_pipeline(
        SimpleImputer(add_indicator=True), StandardScaler(), MinMaxScaler()
    )
    categories = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(sparse_output=False)
    )
    pipeline = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("number", numbers, ["length", "weight", "batch"]),
                        ("category", categories, ["size", "colour"]),
                    ]
                ),
            ),
            ("scale", StandardScaler()),
            ("nothing", "passthrough"),
            ("detect", AutoencoderOutlierDetector(**FAST)),
        ]
    ).fit(X)
    grouped = feature_errors_by_column(pipeline, X)
    errors = pipeline[-1].feature_errors(pipeline[:-1].transform(X))
    # length, weight, batch, the indicator of length, then the 3 + 4
    # categories.
    assert errors.shape[1] == 11
    assert list(grouped.columns) == COLUMNS
    np.testing.assert_allclose(grouped["length"], errors[:, [0, 3]].sum(axis=1))
    np.testing.assert_allclose(grouped["weight"], errors[:, 1])
    np.testing.assert_allclose(grouped["batch"], errors[:, 2])
    np.testing.assert_allclose(grouped["size"], errors[:, 4:7].sum(axis=1))
    np.testing.assert_allclose(grouped["colour"], errors[:, 7:].sum(axis=1))


def test_arrays_get_generated_names(table):
    X = table[["length", "weight", "size"]].to_numpy()
    pipeline = make_pipeline(
        ColumnTransformer(
            [("category", OneHotEncoder(sparse_output=False), [2])],
            remainder=StandardScaler(),
        ),
        AutoencoderOutlierDetector(**FAST),
    ).fit(X)
    grouped = feature_errors_by_column(pipeline, X)
    assert list(grouped.columns) == ["x0", "x1", "x2"]
    errors = pipeline[-1].feature_errors(pipeline[:-1].transform(X))
    np.testing.assert_allclose(grouped["x2"], errors[:, :3].sum(axis=1))
    np.testing.assert_allclose(grouped[["x0", "x1"]], errors[:, 3:])


@pytest.mark.parametrize(
    "transformer, name",
    [
        (PCA(n_components=2), "PCA"),
        (KBinsDiscretizer(n_bins=3, encode="onehot-dense"), "KBinsDiscretizer"),
        (FunctionTransformer(np.log1p), "FunctionTransformer"),
    ],
)
def test_untraceable_transformers_are_named(table, transformer, name):
    X = table[["length", "weight"]].abs()
    pipeline = make_pipeline(
        ColumnTransformer([("number", transformer, ["length", "weight"])]),
        AutoencoderOutlierDetector(**FAST),
    ).fit(X)
    with pytest.raises(ValueError, match=f"cannot trace the output columns of {name}"):
        feature_errors_by_column(pipeline, X)
    # The same transformer as a step of the pipeline itself.
    pipeline = make_pipeline(transformer, AutoencoderOutlierDetector(**FAST)).fit(X)
    with pytest.raises(ValueError, match=f"cannot trace the output columns of {name}"):
        feature_errors_by_column(pipeline, X)


def test_one_to_one_function_transformer_is_traced(table):
    X = table[["length", "weight"]].abs()
    log = FunctionTransformer(np.log1p, feature_names_out="one-to-one")
    pipeline = make_pipeline(log, AutoencoderOutlierDetector(**FAST)).fit(X)
    grouped = feature_errors_by_column(pipeline, X)
    np.testing.assert_array_equal(
        grouped, pipeline[-1].feature_errors(pipeline[:-1].transform(X))
    )


def test_rejects_what_is_not_a_fitted_pipeline_ending_in_skae(table):
    X = table[["length", "weight"]]
    detector = AutoencoderOutlierDetector(**FAST).fit(X)
    with pytest.raises(ValueError, match="needs a Pipeline.*got AutoencoderOutlier"):
        feature_errors_by_column(detector, X)
    regression = make_pipeline(StandardScaler(), LinearRegression())
    regression.fit(X, table["batch"])
    with pytest.raises(ValueError, match="its last step is LinearRegression"):
        feature_errors_by_column(regression, X)
    with pytest.raises(NotFittedError):
        feature_errors_by_column(
            make_pipeline(StandardScaler(), AutoencoderOutlierDetector(**FAST)), X
        )
