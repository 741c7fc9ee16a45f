"""The SQL vocabulary: rows of the model as statements, seeding, and the tokens PostgREST reads."""
