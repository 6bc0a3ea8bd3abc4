// Portable column types only, so one schema serves both backends.

diesel::table! {
    authorities (code) {
        code -> Text,
        name -> Text,
        official_name -> Text,
        nation -> Text,
        region -> Text,
        kind -> Text,
        population -> BigInt,
    }
}

diesel::table! {
    service_meta (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        role -> Text,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        authority_code -> Nullable<Text>,
        adviser_kind -> Nullable<Text>,
        status -> Text,
        accepting -> Bool,
        notification_email -> Nullable<Text>,
        age_recipient -> Nullable<Text>,
        wrapped_identity -> Nullable<Text>,
        totp_secret -> Nullable<Binary>,
        totp_enabled -> Bool,
        totp_last_step -> BigInt,
        created_at -> Timestamp,
        key_version -> BigInt,
        key_leaf -> Nullable<BigInt>,
        failed_sign_ins -> Integer,
        passkey_enabled -> Bool,
        approved_at -> Nullable<Timestamp>,
        approved_by -> Nullable<Text>,
        sra_number -> Nullable<Text>,
        verified_at -> Nullable<Timestamp>,
        verified_by -> Nullable<Text>,
        language -> Text,
        conflicts_changes -> BigInt,
        sign_ins -> BigInt,
        availability_changes -> BigInt,
        key_handover_signed_at -> Nullable<BigInt>,
        key_handover_signature -> Nullable<Text>,
    }
}

diesel::table! {
    adviser_conflicts (adviser_id, authority_code) {
        adviser_id -> Text,
        authority_code -> Text,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        token_hash -> Text,
        role -> Text,
        email -> Text,
        authority_code -> Nullable<Text>,
        adviser_kind -> Nullable<Text>,
        invited_by -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        code_hash -> Nullable<Text>,
        code_failures -> Integer,
        nominated -> Bool,
        language -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        account_id -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        client -> Text,
        last_active_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_devices (token_hash) {
        token_hash -> Text,
        account_id -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        subject -> Text,
        failed_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        recipient -> Text,
        body -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claim -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        digest -> Bool,
        language -> Text,
    }
}

diesel::table! {
    queries (id) {
        id -> Text,
        iro_id -> Text,
        adviser_id -> Text,
        authority_code -> Text,
        category -> Text,
        stage -> Text,
        urgency -> Text,
        status -> Text,
        outcome -> Nullable<Text>,
        created_at -> Timestamp,
        routed_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        first_reply_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        reminded_at -> Nullable<Timestamp>,
        erased_at -> Nullable<Timestamp>,
        status_changes -> BigInt,
    }
}

diesel::table! {
    query_declines (query_id, adviser_id) {
        query_id -> Text,
        adviser_id -> Text,
        reason -> Text,
        declined_at -> Timestamp,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        query_id -> Text,
        sender_id -> Text,
        sender_role -> Text,
        body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> Text,
        query_id -> Text,
        uploader_id -> Text,
        size -> BigInt,
        state -> Text,
        created_at -> Timestamp,
        first_read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    attachment_chunks (attachment_id, seq) {
        attachment_id -> Text,
        seq -> Integer,
        data -> Binary,
    }
}

diesel::table! {
    log_leaves (idx) {
        idx -> BigInt,
        data -> Binary,
        kind -> Text,
        actor -> Binary,
        created_at -> Timestamp,
        tag -> Nullable<Binary>,
    }
}

diesel::table! {
    log_openings (idx) {
        idx -> BigInt,
        salt -> Binary,
        body -> Binary,
        details -> Text,
    }
}

diesel::table! {
    log_pending (id) {
        id -> BigInt,
        data -> Binary,
        kind -> Text,
        actor -> Binary,
        salt -> Nullable<Binary>,
        body -> Nullable<Binary>,
        details -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    log_nodes (level, idx) {
        level -> Integer,
        idx -> BigInt,
        hash -> Binary,
    }
}

diesel::table! {
    log_checkpoints (size) {
        size -> BigInt,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    log_cosignatures (size, witness) {
        size -> BigInt,
        witness -> Text,
        line -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    log_head (id) {
        id -> Integer,
        size -> BigInt,
    }
}

diesel::table! {
    pressure_reports (id) {
        id -> Text,
        iro_id -> Text,
        authority_code -> Text,
        kind -> Text,
        occurred_on -> Date,
        narrative -> Nullable<Text>,
        shared_with_nairo -> Bool,
        created_at -> Timestamp,
        signed_at -> Nullable<BigInt>,
        signature -> Nullable<Text>,
    }
}

diesel::joinable!(accounts -> authorities (authority_code));
diesel::joinable!(adviser_conflicts -> accounts (adviser_id));
diesel::joinable!(sessions -> accounts (account_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(query_declines -> queries (query_id));
diesel::joinable!(messages -> queries (query_id));
diesel::joinable!(attachments -> queries (query_id));
diesel::joinable!(attachment_chunks -> attachments (attachment_id));

diesel::table! {
    passkeys (credential_id) {
        credential_id -> Text,
        account_id -> Text,
        algorithm -> Integer,
        public_key -> Binary,
        sign_count -> BigInt,
        name -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    spent_challenges (digest) {
        digest -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    statistics_releases (period) {
        period -> Text,
        length -> Text,
        version -> Integer,
        built_at -> Timestamp,
        meta -> Text,
        by_authority -> Text,
        by_region -> Text,
        sha256 -> Text,
        leaf_index -> BigInt,
    }
}

diesel::joinable!(passkeys -> accounts (account_id));
diesel::joinable!(log_openings -> log_leaves (idx));

diesel::allow_tables_to_appear_in_same_query!(
    authorities,
    service_meta,
    accounts,
    adviser_conflicts,
    invitations,
    sessions,
    refresh_tokens,
    login_devices,
    passkeys,
    spent_challenges,
    login_failures,
    outbox,
    queries,
    query_declines,
    messages,
    attachments,
    attachment_chunks,
    log_leaves,
    log_openings,
    log_pending,
    log_nodes,
    log_checkpoints,
    log_cosignatures,
    log_head,
    pressure_reports,
    statistics_releases,
);
