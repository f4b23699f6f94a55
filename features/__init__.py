"""Gold features: prediction tasks as data, point-in-time feature engineering over silver (never bronze)."""
