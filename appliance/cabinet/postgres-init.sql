-- Profile `postgres`: one database per pool (admin guide §4.5 P6: never a shared one); each pool's
-- migrations create the pgvector extension in its own database.
CREATE DATABASE cellule_a;
CREATE DATABASE cellule_b;
CREATE DATABASE cellule_c;
