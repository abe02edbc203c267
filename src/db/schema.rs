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

diesel::allow_tables_to_appear_in_same_query!(agencies, users, audit_log, calendar_years);
