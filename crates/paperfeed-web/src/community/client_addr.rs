//! Which address a request came from, for the limits keyed by client address (sign-up, log-in,
//! subscribe). Behind a reverse proxy every TCP peer is the proxy, so those limits would be
//! one bucket for everybody; the proxies named in `serve.trusted_proxies` are believed about
//! the client they forward for (`X-Forwarded-For`), nobody else is.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The reverse proxies whose `X-Forwarded-For` is believed: addresses or networks
/// (`127.0.0.1`, `::1`, `10.0.0.0/8`). Empty (the default): the header is ignored and the TCP
/// peer is the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Reads each entry as an address or a network in CIDR notation; the first that is
    /// neither is the error, quoted.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!("{entry:?} is neither an IP address nor a network like 10.0.0.0/8")
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client of a request that arrived from `peer`: the peer itself unless it is a
    /// trusted proxy; then, reading `X-Forwarded-For` from the right (each proxy appends the
    /// address it received from), the first address that is not a trusted proxy. An entry
    /// that does not read as an address stops the walk at the proxy that passed it on; when
    /// every entry is a trusted proxy, the leftmost is the client.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for entry in forwarded.iter().rev() {
            let Ok(addr) = entry.trim().parse::<IpAddr>() else {
                break;
            };
            client = addr.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("127.0.0.1"), &headers(&["203.0.113.7"])),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_trusted_proxy_is_believed_about_its_client() {
        let local = TrustedProxies::parse(&["127.0.0.1", "::1"]).unwrap();
        assert_eq!(
            local.client(ip("127.0.0.1"), &headers(&["203.0.113.7"])),
            ip("203.0.113.7")
        );
        assert_eq!(
            local.client(ip("::1"), &headers(&["2001:db8::5"])),
            ip("2001:db8::5")
        );
        // No header: the proxy itself.
        assert_eq!(
            local.client(ip("127.0.0.1"), &headers(&[])),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let local = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
        assert_eq!(
            local.client(ip("198.51.100.9"), &headers(&["203.0.113.7"])),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn what_a_client_prepends_is_not_believed() {
        // The client sent "X-Forwarded-For: 1.2.3.4" itself; the proxy appended the address
        // it saw. Only the rightmost untrusted entry counts.
        let local = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
        assert_eq!(
            local.client(ip("127.0.0.1"), &headers(&["1.2.3.4, 203.0.113.7"])),
            ip("203.0.113.7")
        );
        assert_eq!(
            local.client(ip("127.0.0.1"), &headers(&["1.2.3.4", "203.0.113.7"])),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_walked_through() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "127.0.0.1"]).unwrap();
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &headers(&["203.0.113.7, 10.1.2.3"])),
            ip("203.0.113.7")
        );
        // Every hop trusted: the leftmost.
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &headers(&["10.9.9.9, 10.1.2.3"])),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn garbage_in_the_header_stops_at_the_proxy_that_passed_it() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "127.0.0.1"]).unwrap();
        assert_eq!(
            proxies.client(
                ip("127.0.0.1"),
                &headers(&["203.0.113.7, unknown, 10.1.2.3"])
            ),
            ip("10.1.2.3")
        );
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &headers(&["<script>"])),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn ipv4_mapped_peers_count_as_their_ipv4_address() {
        let local = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
        assert_eq!(
            local.client(ip("::ffff:127.0.0.1"), &headers(&["203.0.113.7"])),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn entries_are_addresses_or_networks() {
        assert!(TrustedProxies::parse(&["10.0.0.0/8", " fd00::/8 ", "::1"]).is_ok());
        let error = TrustedProxies::parse(&["127.0.0.1", "localhost"]).unwrap_err();
        assert!(error.contains("\"localhost\""), "{error}");
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
    }
}
