//! Table definitions shared by both backends (portable column types only).

diesel::table! {
    agencies (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        parent_id -> Nullable<Text>,
        region -> Nullable<Text>,
        path -> Text,
        depth -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        report_kind -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        agency_id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        roles -> Text,
        disabled -> Bool,
        token_generation -> Integer,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        department_id -> Nullable<Text>,
        email -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        occurred_at -> Timestamp,
        actor_user_id -> Nullable<Text>,
        actor_label -> Text,
        agency_id -> Nullable<Text>,
        entity_type -> Text,
        entity_id -> Text,
        action -> Text,
        payload -> Text,
        request_id -> Nullable<Text>,
    }
}

diesel::joinable!(users -> agencies (agency_id));

diesel::table! {
    calendar_years (year) {
        year -> Integer,
        schedule -> Text,
        source -> Text,
        version -> Integer,
        updated_at -> Timestamp,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    requests (id) {
        id -> Text,
        agency_id -> Text,
        case_number -> Text,
        case_year -> Integer,
        case_seq -> Integer,
        query_code -> Text,
        channel -> Text,
        arrived_at -> Timestamp,
        arrival_date -> Date,
        signed_for_on -> Nullable<Date>,
        confirmed_on -> Nullable<Date>,
        applicant_kind -> Text,
        applicant_name -> Text,
        applicant_key -> Nullable<Text>,
        description -> Text,
        external_reference -> Nullable<Text>,
        state -> Text,
        receipt_date -> Nullable<Date>,
        due_date -> Nullable<Date>,
        due_provisional -> Bool,
        disposition -> Nullable<Text>,
        closed_on -> Nullable<Date>,
        fee_notice_on -> Nullable<Date>,
        fee_amount_fen -> Nullable<BigInt>,
        fee_paid_on -> Nullable<Date>,
        fee_paid_fen -> Nullable<BigInt>,
        late -> Bool,
        version -> Integer,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        search_text -> Nullable<Text>,
        holder_user_id -> Nullable<Text>,
        holder_department_id -> Nullable<Text>,
        holder_since -> Nullable<Timestamp>,
        sender_user_id -> Nullable<Text>,
        sender_department_id -> Nullable<Text>,
        acts_without_notice -> Nullable<Text>,
    }
}

diesel::table! {
    request_documents (request_id) {
        request_id -> Text,
        details -> Text,
        workflow -> Text,
    }
}

diesel::table! {
    request_events (id) {
        id -> Text,
        request_id -> Text,
        seq -> Integer,
        occurred_at -> Timestamp,
        actor_user_id -> Nullable<Text>,
        actor_label -> Text,
        action -> Text,
        on_date -> Nullable<Date>,
        state_before -> Nullable<Text>,
        state_after -> Text,
        payload -> Text,
        http_request_id -> Nullable<Text>,
    }
}

diesel::table! {
    case_counters (agency_id, year) {
        agency_id -> Text,
        year -> Integer,
        last_seq -> Integer,
    }
}

diesel::table! {
    idempotency_keys (user_id, idem_key) {
        user_id -> Text,
        idem_key -> Text,
        body_hash -> Text,
        response_status -> Integer,
        response_body -> Text,
        created_at -> Timestamp,
        response_headers -> Text,
    }
}

diesel::table! {
    letterheads (agency_id) {
        agency_id -> Text,
        fields -> Text,
        version -> Integer,
        updated_by -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notices (id) {
        id -> Text,
        request_id -> Text,
        agency_id -> Text,
        kind -> Text,
        state -> Text,
        fields -> Text,
        paragraphs -> Text,
        approvals -> Text,
        service -> Text,
        number -> Nullable<Text>,
        issued_on -> Nullable<Date>,
        issued_text -> Nullable<Text>,
        text_sha256 -> Nullable<Text>,
        version -> Integer,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    document_numbers (agency_id, year, pattern) {
        agency_id -> Text,
        year -> Integer,
        pattern -> Text,
        last_seq -> Integer,
    }
}

diesel::table! {
    notice_settings (agency_id) {
        agency_id -> Text,
        approval_required -> Text,
        version -> Integer,
        updated_by -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(requests -> agencies (agency_id));
diesel::joinable!(request_events -> requests (request_id));
diesel::joinable!(request_documents -> requests (request_id));
diesel::allow_tables_to_appear_in_same_query!(
    departments,
    internal_consultations,
    request_flags,
    reminders,
    notice_settings,
    notices,
    document_numbers,
    letterheads,
    agencies,
    users,
    audit_log,
    calendar_years,
    requests,
    request_documents,
    request_events,
    case_counters,
    idempotency_keys,
    remedy_cases,
    report_drafts,
    report_versions,
    api_clients,
    feed_events,
    webhook_subscriptions,
    webhook_outbox,
    webhook_deliveries
);

diesel::table! {
    rate_limits (bucket, window_start) {
        bucket -> Text,
        window_start -> BigInt,
        hits -> Integer,
    }
}

diesel::table! {
    remedy_cases (id) {
        id -> Text,
        kind -> Text,
        agency_id -> Text,
        request_id -> Nullable<Text>,
        applicant_name -> Text,
        body_name -> Text,
        filed_on -> Date,
        received_on -> Nullable<Date>,
        act_known_on -> Nullable<Date>,
        route -> Nullable<Text>,
        review_id -> Nullable<Text>,
        instance -> Nullable<Text>,
        decision_type -> Nullable<Text>,
        decided_on -> Nullable<Date>,
        outcome -> Text,
        notes -> Nullable<Text>,
        filing_deadline -> Nullable<Date>,
        filing_rule -> Nullable<Text>,
        filed_late -> Bool,
        version -> Integer,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        decision_served_on -> Nullable<Date>,
        filing_starts_on -> Nullable<Date>,
        filing_start_basis -> Nullable<Text>,
        review_first_required -> Bool,
    }
}

diesel::table! {
    report_drafts (agency_id, year) {
        agency_id -> Text,
        year -> Integer,
        proactive -> Text,
        narrative -> Text,
        updated_at -> Timestamp,
        updated_by -> Nullable<Text>,
        revision -> Integer,
    }
}

diesel::table! {
    report_versions (agency_id, year, version) {
        agency_id -> Text,
        year -> Integer,
        version -> Integer,
        snapshot -> Text,
        published_at -> Timestamp,
        published_by -> Text,
        reopened_at -> Nullable<Timestamp>,
        reopened_by -> Nullable<Text>,
        reopen_reason -> Nullable<Text>,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        name -> Text,
        agency_id -> Text,
        scopes -> Text,
        secret_hash -> Text,
        disabled -> Bool,
        token_generation -> Integer,
        version -> Integer,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    feed_state (id) {
        id -> Integer,
        last_seq -> BigInt,
    }
}

diesel::table! {
    feed_events (write_no) {
        write_no -> BigInt,
        id -> Text,
        seq -> Nullable<BigInt>,
        occurred_at -> Timestamp,
        agency_id -> Text,
        entity_type -> Text,
        entity_id -> Text,
        request_id -> Nullable<Text>,
        event_type -> Text,
        payload -> Text,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        agency_id -> Text,
        url -> Text,
        secret -> Text,
        event_types -> Text,
        enabled -> Bool,
        version -> Integer,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_outbox (subscription_id, event_id) {
        subscription_id -> Text,
        event_id -> Text,
        ordering_key -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        subscription_id -> Text,
        event_id -> Text,
        attempt -> Integer,
        attempted_at -> Timestamp,
        succeeded -> Bool,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
    }
}

diesel::joinable!(api_clients -> agencies (agency_id));
diesel::joinable!(feed_events -> agencies (agency_id));
diesel::joinable!(webhook_subscriptions -> agencies (agency_id));
diesel::joinable!(webhook_outbox -> webhook_subscriptions (subscription_id));

diesel::table! {
    request_files (id) {
        id -> Text,
        request_id -> Text,
        agency_id -> Text,
        kind -> Text,
        name -> Text,
        media_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        note -> Nullable<Text>,
        supersedes -> Nullable<Text>,
        version -> Integer,
        uploaded_by -> Text,
        uploaded_at -> Timestamp,
    }
}

diesel::table! {
    refresh_families (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(refresh_tokens -> refresh_families (family_id));
diesel::allow_tables_to_appear_in_same_query!(refresh_tokens, refresh_families);

diesel::table! {
    departments (id) {
        id -> Text,
        agency_id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    internal_consultations (id) {
        id -> Text,
        request_id -> Text,
        department_id -> Text,
        question -> Text,
        asked_by -> Nullable<Text>,
        asked_at -> Timestamp,
        answer -> Nullable<Text>,
        answered_by -> Nullable<Text>,
        answered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    request_flags (request_id, code) {
        request_id -> Text,
        code -> Text,
        explanation -> Text,
        related -> Text,
        raised_at -> Timestamp,
    }
}

diesel::table! {
    reminders (id) {
        id -> Text,
        request_id -> Text,
        kind -> Text,
        occasion -> Text,
        agency_id -> Text,
        holder_user_id -> Nullable<Text>,
        holder_department_id -> Nullable<Text>,
        recipients -> Text,
        subject -> Text,
        body -> Text,
        created_at -> Timestamp,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::joinable!(departments -> agencies (agency_id));
diesel::joinable!(internal_consultations -> departments (department_id));

diesel::table! {
    service_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    change_signals (name) {
        name -> Text,
        revision -> BigInt,
    }
}
