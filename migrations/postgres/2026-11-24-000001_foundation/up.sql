CREATE TABLE authorities (
    code TEXT PRIMARY KEY NOT NULL CHECK (length(code) = 9),
    name TEXT NOT NULL,
    official_name TEXT NOT NULL,
    nation TEXT NOT NULL CHECK (nation IN ('England', 'Wales')),
    region TEXT NOT NULL,
    kind TEXT NOT NULL,
    population BIGINT NOT NULL
);
CREATE INDEX authorities_region ON authorities (region);

CREATE TABLE service_meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
