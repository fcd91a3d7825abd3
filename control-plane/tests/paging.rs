//! Paging numbers are bounded before any arithmetic: a PageNumber or NextToken past the
//! service's 32-bit Integer is `InvalidParameter`, never an overflow, on every Describe call.

mod common;

use common::*;

const HUGE: &str = "9223372036854775807";

/// The Describe calls that page by number or by offset token.
const PAGED: [&str; 5] = [
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeActivations",
    "DescribeManagedInstances",
    "DescribeCloudAssistantStatus",
];

#[tokio::test]
async fn a_page_number_past_the_maximum_is_invalid() {
    let plane = TestPlane::start(&[]).await;
    plane.ready_instance().await;
    let c = plane.client();
    for action in PAGED {
        for size in ["1", "50"] {
            let got = c
                .call(
                    action,
                    &[
                        ("RegionId", REGION),
                        ("PageNumber", HUGE),
                        ("PageSize", size),
                    ],
                )
                .await;
            assert_error(&got, 400, "InvalidParameter");
            assert!(
                got.1["Message"].as_str().unwrap().contains("PageNumber"),
                "{action}: {}",
                got.1
            );
        }
        // The largest page number is a page like any other, past the end.
        let (status, body) = c
            .call(
                action,
                &[("RegionId", REGION), ("PageNumber", "2147483647")],
            )
            .await;
        assert_eq!(status, 200, "{action}: {body}");
        assert_eq!(body["PageNumber"], 2147483647_i64, "{action}");
    }
}

#[tokio::test]
async fn a_next_token_past_the_maximum_is_invalid() {
    let plane = TestPlane::start(&[]).await;
    plane.ready_instance().await;
    let c = plane.client();
    let token_paged = PAGED.iter().filter(|a| **a != "DescribeInstanceStatus");
    for action in token_paged.chain(&["DescribeTerminalSessions"]) {
        for token in [HUGE, "2147483648", "-1", "99999999999999999999999999"] {
            let got = c
                .call(action, &[("RegionId", REGION), ("NextToken", token)])
                .await;
            assert_error(&got, 400, "InvalidParameter");
            assert!(
                got.1["Message"].as_str().unwrap().contains("NextToken"),
                "{action} {token}: {}",
                got.1
            );
        }
        let (status, body) = c
            .call(action, &[("RegionId", REGION), ("NextToken", "2147483647")])
            .await;
        assert_eq!(status, 200, "{action}: {body}");
    }
}
