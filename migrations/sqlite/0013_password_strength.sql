-- The strength checks of a new personal password, per password policy: refuse personal words
-- (names, the office's name, city and number), refuse common passwords, and the minimum strength
-- score (zxcvbn, 0 to 4). Existing policies get every check, score 3: the defaults.

ALTER TABLE password_policies ADD COLUMN refuse_personal_words INTEGER NOT NULL DEFAULT 1;
ALTER TABLE password_policies ADD COLUMN refuse_common_passwords INTEGER NOT NULL DEFAULT 1;
ALTER TABLE password_policies ADD COLUMN min_strength INTEGER NOT NULL DEFAULT 3
    CHECK (min_strength BETWEEN 0 AND 4);
