//! `paperfeed user add` and `paperfeed token create`: accounts and API tokens from the shell,
//! through the same use cases as sign-up and account settings.

use std::io::BufRead as _;
use std::sync::Arc;

use anyhow::Context as _;
use paperfeed_app::accounts::{self, NewAccount};
use paperfeed_core::{EmailAddress, Password, Username};
use paperfeed_store::Store;

use crate::cli::{TokenCreateArgs, UserAddArgs};
use crate::settings::Settings;

async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    Ok(crate::database::open(settings).await?)
}

pub async fn add_user(settings: &Settings, args: &UserAddArgs) -> anyhow::Result<()> {
    let username = Username::parse(&args.name)?;
    let email = EmailAddress::parse(&args.email)?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = Password::parse(line.trim_end_matches(['\n', '\r']))?;
    let account = NewAccount {
        username,
        email,
        password,
        is_admin: args.admin,
    };
    let store = open_store(settings).await?;
    let user = accounts::create_user(&*store, account, chrono::Utc::now())
        .await
        .with_context(|| format!("adding user {}", args.name))?;
    println!(
        "added user {}{}",
        user.username,
        if user.is_admin { " (admin)" } else { "" }
    );
    Ok(())
}

pub async fn create_token(settings: &Settings, args: &TokenCreateArgs) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let user = store
        .user_by_name(&args.name)
        .await?
        .with_context(|| format!("there is no user named {:?}", args.name))?;
    let token = accounts::create_api_token(&*store, user.id, args.label.clone())
        .await
        .with_context(|| format!("storing a token for {}", args.name))?;
    println!("{token}");
    Ok(())
}
