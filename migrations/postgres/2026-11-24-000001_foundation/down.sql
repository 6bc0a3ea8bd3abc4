DROP TABLE service_meta;
DROP TABLE authorities;
