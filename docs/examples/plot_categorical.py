"""
============================================================
Categorical columns: a ColumnTransformer, and explanations
============================================================

skae's estimators take numbers. A table with text columns goes through a
:class:`~sklearn.compose.ColumnTransformer` first, in a
:class:`~sklearn.pipeline.Pipeline`: one-hot encoding for the categories,
scaling for the numbers. The detector then sees one column per category,
and its :meth:`~skae.AutoencoderOutlierDetector.feature_errors` are in
those columns. :func:`skae.inspection.feature_errors_by_column` adds them
back up into the columns of the table, so that an explanation names
``district`` rather than ``category__district_outskirts``.

The table is generated: 600 flats, whose number of rooms follows their floor
area, whose price follows their area and district, and whose assessed value
follows their price. Twelve rows are planted outliers, four of each kind: a
district that does not match the price, a price that matches neither the
flat nor its assessed value, and too many rooms for the area.
"""

# %%
# A table with text and numbers
# -----------------------------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skae import AutoencoderOutlierDetector
from skae.inspection import feature_errors_by_column

rng = np.random.RandomState(0)
n = 600
district = rng.choice(["centre", "suburb", "outskirts"], n, p=[0.3, 0.45, 0.25])
area = np.round(rng.lognormal(np.log(70), 0.35, n))
premium = pd.Series(district).map(
    {"centre": 300_000, "suburb": 120_000, "outskirts": 0}
)
price = np.round(4000 * area + premium + rng.normal(0, 20_000, n), -3)
X = pd.DataFrame(
    {
        "area": area,
        "rooms": np.clip(np.round(area / 25 + rng.normal(0, 0.4, n)), 1, None),
        "district": district,
        "price": price,
        "assessed": np.round(0.8 * price + rng.normal(0, 15_000, n), -3),
    }
)

planted = pd.Series("", index=X.index)
rows = np.flatnonzero(district == "centre")[:4]
X.loc[rows, "district"], planted[rows] = "outskirts", "district"
rows = np.flatnonzero(district == "suburb")[:4]
X.loc[rows, "price"] += 400_000
planted[rows] = "price"
rows = np.flatnonzero((district == "outskirts") & (area < 60))[:4]
X.loc[rows, "rooms"] += 4
planted[rows] = "rooms"
is_planted = (planted != "").to_numpy()
X.head()

# %%
# Given to the detector as it is, the table is refused, with a hint
# ------------------------------------------------------------------
try:
    AutoencoderOutlierDetector().fit(X)
except ValueError as error:
    print(error)

# %%
# A pipeline that encodes the categories
# --------------------------------------
# The ColumnTransformer standardises the numbers and one-hot encodes the
# text. ``sparse_output=False`` keeps the output dense: skae does not take
# sparse matrices, and a ColumnTransformer returns one when its output is
# mostly zeros. ``handle_unknown="ignore"`` lets new categories through at
# prediction time, as all-zero rows. The numbers follow two things, the size
# and the district, so a code of two numbers is enough.
preprocess = ColumnTransformer(
    [
        ("number", StandardScaler(), make_column_selector(dtype_include="number")),
        (
            "category",
            OneHotEncoder(sparse_output=False, handle_unknown="ignore"),
            make_column_selector(dtype_include=object),
        ),
    ]
)
pipeline = make_pipeline(
    preprocess,
    AutoencoderOutlierDetector(
        n_components=2, contamination=is_planted.mean(), random_state=0
    ),
).fit(X)

# %%
# What the detector sees: the four numbers, and one column per district.
print(list(preprocess.get_feature_names_out()))

scores = pipeline.score_samples(X)
flagged = pipeline.predict(X) == -1
auc = roc_auc_score(is_planted, -scores)
print(f"ROC-AUC of the scores against the planted rows: {auc:.3f}")
print(f"{flagged.sum()} rows flagged, {is_planted[flagged].sum()} of them planted")

# %%
# Explanations in the table's columns
# -----------------------------------
# ``feature_errors_by_column`` sums the errors of the three ``district``
# columns into one. The sum of a category starts higher than a number's,
# since it adds one error per category: compare a row with the column's
# usual value, here its median over all rows.
errors = feature_errors_by_column(pipeline, X)
usual = errors.median()
print("Median error of each column:", usual.round(2).to_dict())
relative = errors / usual
most_abnormal = np.argsort(scores)[:12]
table = relative.iloc[most_abnormal].round(1)
table.insert(0, "planted", planted.iloc[most_abnormal])
table["blamed"] = relative.iloc[most_abnormal].idxmax(axis=1)
print(table.to_string())

# %%
# For every planted row, the column it blames most, against the one that
# was changed:
blamed = relative[is_planted].idxmax(axis=1)
print(
    pd.crosstab(planted[is_planted], blamed, rownames=["planted"], colnames=["blamed"])
)

# %%
# One row of each kind, column by column, as multiples of the usual error:
examples = [
    np.flatnonzero(planted == kind)[0] for kind in ("district", "price", "rooms")
]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.5), sharey=True)
for ax, row in zip(axes, examples, strict=True):
    ax.barh(X.columns[::-1], relative.iloc[row][X.columns[::-1]], color="tab:red")
    ax.axvline(1, color="grey", linestyle=":")
    ax.set_title(f"row {row}: {planted.iloc[row]} planted")
    ax.set_xlabel("error / median error of the column")
fig.suptitle("Which column makes each flat an outlier")
fig.tight_layout()
plt.show()

# %%
# Each planted change is blamed on the column that was changed, because the
# other columns agree with one another: a district that contradicts the
# price and the assessed value is the odd one out. Where only two columns
# disagree (a price with no assessed value to check it against), the error
# is shared between them, and no method can tell which one is wrong.
