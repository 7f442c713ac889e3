//! [`AppState`]: what every handler can reach, and the builder the binary fills it with.

use std::sync::Arc;

use paperfeed_app::follows::NewestMatches;
use paperfeed_app::identity::SignIn;
use paperfeed_app::recommend::Recommender;
use paperfeed_app::subscriptions::MailLinks;
use paperfeed_app::visibility::FilterCache;
use paperfeed_search::SearchEngine;
use paperfeed_store::Store;

use crate::community::{Community, CommunitySettings, PaperLookup};
use crate::first_seen::FirstSeen;
use crate::metrics::Metrics;
use crate::page_cache::PageCache;

/// What every handler can reach: one shared value, so that the copy each extractor and
/// middleware takes of it costs one reference count, not one per part (a profile of the cached
/// daily page under load had cloning and dropping the parts at 4% of the server's time).
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Clone)]
pub struct AppParts {
    pub store: Arc<dyn Store>,
    pub search: Arc<SearchEngine>,
    /// The recommender's per-paper data and cached models; its catch-up loop
    /// ([`Recommender::run`]) is the binary's to start.
    pub recommender: Arc<Recommender>,
    /// The hub's public address (`https://papers.example.org`) for absolute links in feeds;
    /// unset, links are built from the request's `Host`.
    pub public_url: Option<String>,
    pub(crate) pages: Arc<PageCache>,
    pub(crate) first_seen: Arc<FirstSeen>,
    /// Signed digest links (unsubscribe); `None` when the hub sends no mail.
    pub(crate) mail_links: Option<Arc<MailLinks>>,
    pub(crate) community: Arc<Community>,
    /// The process's metrics, shared with the binary's background tasks.
    pub metrics: Arc<Metrics>,
    /// `/metrics` on the main router (true) or only on [`crate::metrics_router`]'s own listener.
    pub(crate) metrics_on_main: bool,
    /// The operator's `[webhooks] allow_private_targets`: saved-search webhooks may reach
    /// loopback, private and link-local addresses.
    pub(crate) allow_private_webhooks: bool,
    /// What readers' filters keep between requests (papers' text for keyword mutes).
    pub(crate) filters: Arc<FilterCache>,
    /// Saved searches' newest matches per index generation, for the Following feed.
    pub(crate) search_matches: Arc<NewestMatches>,
    /// Sign-in through identity providers, and whether passwords are on; `None`: no provider,
    /// passwords on.
    pub(crate) sign_in: Option<Arc<SignIn>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, search: Arc<SearchEngine>) -> Self {
        Self(Arc::new(AppParts {
            store,
            recommender: Arc::new(Recommender::new(Arc::clone(&search))),
            search,
            public_url: None,
            pages: Arc::default(),
            first_seen: Arc::default(),
            mail_links: None,
            community: Arc::new(Community::new(CommunitySettings::default())),
            metrics: Arc::default(),
            metrics_on_main: true,
            allow_private_webhooks: false,
            filters: Arc::default(),
            search_matches: Arc::default(),
            sign_in: None,
        }))
    }

    /// The parts, to change while the binary builds the state (before it is shared).
    fn parts(&mut self) -> &mut AppParts {
        Arc::make_mut(&mut self.0)
    }

    /// The identity providers readers sign in with, and whether password sign-in is on.
    pub fn with_sign_in(mut self, sign_in: SignIn) -> Self {
        self.parts().sign_in = Some(Arc::new(sign_in));
        self
    }

    /// Password sign-in and sign-up are on.
    pub(crate) fn passwords_on(&self) -> bool {
        self.sign_in.as_ref().is_none_or(|s| s.passwords())
    }

    /// Shares `metrics` with whoever else counts into it (background tasks).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.parts().metrics = metrics;
        self
    }

    /// Serves `/metrics` only from [`crate::metrics_router`] (on its own listener): the main router
    /// answers 404 for it.
    pub fn with_metrics_elsewhere(mut self) -> Self {
        self.parts().metrics_on_main = false;
        self
    }

    /// Cookie security, the submission window and rate limits. Resets the rate limiter and
    /// keeps the paper lookup.
    pub fn with_community(mut self, settings: CommunitySettings) -> Self {
        let lookup = self.community.lookup.clone();
        let mut community = Community::new(settings);
        community.lookup = lookup;
        self.parts().community = Arc::new(community);
        self
    }

    /// Where submissions of papers not in the store are looked up (the arXiv API client).
    pub fn with_paper_lookup(mut self, lookup: Arc<dyn PaperLookup>) -> Self {
        let mut community = Community::new(self.community.settings.clone());
        community.lookup = Some(lookup);
        self.parts().community = Arc::new(community);
        self
    }

    /// Lets `/unsubscribe` check the links digests carry and update the subscriber.
    pub fn with_mail_links(mut self, links: MailLinks) -> Self {
        self.parts().mail_links = Some(Arc::new(links));
        self
    }

    /// Lets saved-search webhooks target internal addresses (`[webhooks] allow_private_targets`).
    pub fn with_private_webhook_targets(mut self, allow: bool) -> Self {
        self.parts().allow_private_webhooks = allow;
        self
    }

    pub fn with_public_url(mut self, url: Option<String>) -> Self {
        self.parts().public_url = url;
        self
    }
}
