# Offline plan of the whole environment against a mocked AWS provider (no credentials, no network):
# catches what `validate` cannot - variable validations, for_each keys unknown at plan time,
# provider-side argument checks. Run by tests/infra/test_terraform.py (`terraform test`).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }

  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_data "aws_secretsmanager_random_password" {
    defaults = { random_password = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01" }
  }
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
