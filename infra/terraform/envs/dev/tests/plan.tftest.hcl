# Offline plan of the whole environment against a mocked AWS provider (mocked data sources shared in
# infra/terraform/tests/mocks; no credentials, no network):
# catches what `validate` cannot - variable validations, for_each keys unknown at plan time,
# provider-side argument checks. Run by tests/infra/test_terraform.py (`terraform test`).

mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  cluster_admin_role_arns = ["arn:aws:iam::123456789012:role/platform-admin"]
  allowed_account_ids     = ["123456789012"]
}

run "plan_with_defaults" {
  command = plan
}

run "rejects_cluster_admin_that_is_not_a_role" {
  command = plan

  variables {
    cluster_admin_role_arns = ["arn:aws:iam::123456789012:user/alice"]
  }

  expect_failures = [var.cluster_admin_role_arns]
}

run "rejects_public_api_open_to_the_internet" {
  command = plan

  variables {
    eks_public_access_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.eks_public_access_cidrs]
}
